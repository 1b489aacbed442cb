// The public face of src/server.
export { buildApp, DEFAULT_BODY_LIMIT, TLS_MIN_VERSION } from './app.ts';
export type { AppDeps, HandledReview, Readiness, ReviewHandler, ReviewRoute } from './app.ts';
export { startServer, type RunningServer, type ServeOptions } from './serve.ts';
export { readKeyPair, watchServingFiles, type CertificateFiles, type KeyPair } from './tls.ts';
export { readClientCaBundle, type ClientAuth } from './client-auth.ts';
