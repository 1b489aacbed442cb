// The baseline of the warm /validate figures in `npm run bench`: a bare fastify HTTPS server in its own
// process, set up as sigward's server is (TLS 1.2+, the same key pair, keep-alive 65 s, a 6 MiB JSON
// body limit, fastify's JSON parser) and answering the same AdmissionReview with the same shape sigward
// gives a cached allow (uid read from the parsed body, allowed, the decision annotation), serialized the
// same way. No engine, no log line, no metrics: what any webhook on fastify costs at least.
//   node --import ./bench/probe.ts bench/bare-server.ts CERT KEY   (prints {"url": …} on stdout)
import { readFileSync } from 'node:fs';
import fastify from 'fastify';

const [certFile, keyFile] = process.argv.slice(2);
if (certFile === undefined || keyFile === undefined) throw new Error('usage: bare-server.ts CERT KEY');
const app = fastify({
  https: { cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.2' },
  bodyLimit: 6 * 1024 * 1024,
  keepAliveTimeout: 65_000,
  forceCloseConnections: 'idle',
});
app.post('/validate', async (request) => {
  const uid = (request.body as { request?: { uid?: unknown } } | null)?.request?.uid;
  if (typeof uid !== 'string') throw new Error('not an AdmissionReview');
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid, allowed: true, auditAnnotations: { decision: 'allow' } },
  };
});
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
process.stdout.write(`${JSON.stringify({ url: `https://127.0.0.1:${port}` })}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
