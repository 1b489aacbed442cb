// Ablation aid for the warm tail (#14): sigward's own HTTPS server (server/serve.ts, app.ts) with its
// logger and metrics, answering every review with a cached allow of the same shape the engine gives,
// without the engine: what sigward's HTTP face costs on top of bench/bare-server.ts. Variables strip
// one part at a time:
//   LOG=warn     no admission line (the logger's level)
//   DEST=none    the lines built but written nowhere (not stdout)
//   METRICS=none the admission counter and histogram do nothing; PROCESS_METRICS=0 no prom-client
//                default metrics
//   SERVE=0      buildApp + listen only (no startServer: no certificate file watch)
//   JSON=0       the review serialized by fastify, not sent as the engine's reply JSON (ReplyTemplate)
//   TAIL=1 TAIL_ROOTS="bench/server-only.ts,bench/server-only.ts?LOG=warn,bare" \
//     node bench/profile-warm.ts 16 2000      (prints "listening on URL" on stderr)
import { readFileSync } from 'node:fs';
import { ReplyTemplate } from '../src/admission/review.ts';
import { buildApp, startServer } from '../src/server/index.ts';
import type { AppDeps } from '../src/server/index.ts';
import { createLogger, createMetrics } from '../src/telemetry/index.ts';
import type { Metrics } from '../src/telemetry/index.ts';
import { cachedAllow } from '../test/support/cached-allow.ts';

const [certFile, keyFile] = process.argv.slice(2);
if (certFile === undefined || keyFile === undefined) throw new Error('usage: server-only.ts CERT KEY');
const env = process.env;
const logger = createLogger({
  level: env['LOG'] ?? 'info',
  ...(env['DEST'] === 'none'
    ? { destination: { write: () => true } as unknown as NodeJS.WritableStream }
    : {}),
});
const metrics: Metrics = createMetrics({ processMetrics: env['PROCESS_METRICS'] !== '0' });
if (env['METRICS'] === 'none') {
  metrics.countAdmission = () => undefined;
  Object.assign(metrics, { admissionDuration: { series: () => ({ observe: () => undefined }) } });
}
// The reply JSON as the engine makes it for a cached answer: the same response, only the uid put in.
const template = new ReplyTemplate({ uid: '', allowed: true, auditAnnotations: { decision: 'allow' } });
const handleReview: AppDeps['handleReview'] = (body) => {
  const uid = (body as { request?: { uid?: unknown } } | null)?.request?.uid;
  if (typeof uid !== 'string') return { ok: false, message: 'not an AdmissionReview' };
  const answer = cachedAllow(uid, {
    user: 'system:serviceaccount:kube-system:replicaset-controller',
    object: 'default/pod-1',
  });
  return env['JSON'] === '0' ? answer : { ...answer, json: template.json(uid) };
};
const deps = { handleReview, readiness: () => ({ ready: true, reasons: [] }), metrics, logger };
let url: string;
if (env['SERVE'] === '0') {
  const app = buildApp({ ...deps, https: { cert: readFileSync(certFile), key: readFileSync(keyFile) } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `https://127.0.0.1:${(app.server.address() as { port: number }).port}`;
} else {
  url = (await startServer({ ...deps, host: '127.0.0.1', port: 0, tls: { certFile, keyFile } })).url;
}
process.stderr.write(`listening on ${url}\n`);
process.on('SIGTERM', () => process.exit(0));
