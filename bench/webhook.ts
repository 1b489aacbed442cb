// The webhook section of `npm run bench`: the real server (fastify over HTTPS, the engine, a real
// docker-registry holding the cosign v3 bundle of kubewarden-controller) answering a Pod review,
// against a bare fastify HTTPS server answering the same review with a canned reply, in the same run.
//   warm: the verdict is cached (the steady state: every replica of a Deployment, every re-apply);
//         throughput and latency with 16 concurrent keep-alive connections (the apiserver opens one
//         connection per concurrent call).
//   cold: a fresh engine per review (empty caches: discovery, fetch and crypto).
import https from 'node:https';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import fastify from 'fastify';
import { startServer } from '../src/server/serve.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { makeTestTls } from '../test/support/tls.ts';
import {
  clusterPolicy,
  engineUnderTest,
  kubewardenAuthority,
  podReview,
  pushFixtures,
  responseOf,
} from '../test/engine/harness.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '60' } }, strict: false });
const warmRequests = Math.max(200, Number(values.runs) * 50);
const coldRuns = Math.max(5, Math.round(Number(values.runs) / 4));
const connections = 16;

const quiet = new Writable({ write: (_c, _e, done) => done() });
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: readonly number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

async function load(url: string, body: string, ca: string, total: number) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: connections, ca });
  const latencies: number[] = [];
  let next = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const t = performance.now();
      const req = https.request(
        url,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - t);
            if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
            else resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const worker = async (): Promise<void> => {
    while (next++ < total) await one();
  };
  // Warm the connections first.
  await Promise.all(Array.from({ length: connections }, () => one()));
  latencies.length = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { rps: total / seconds, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99) };
}

const registry = await startDockerRegistry();
const tls = makeTestTls(mkdtempSync(join(tmpdir(), 'sigward-bench-tls-')));
const ca = tls.caPem;
try {
  const fx = await pushFixtures(registry.host);
  const policies = [clusterPolicy('kubewarden', ['127.0.0.1:*/signed/**'], [kubewardenAuthority()])];
  const review = podReview([fx.keylessImage(registry.host)]);
  const body = JSON.stringify(review);

  // Cold: a fresh engine (empty caches) per review, same registry connections policy as production.
  const cold: number[] = [];
  for (let i = 0; i < coldRuns; i++) {
    const e = engineUnderTest(policies);
    const t = performance.now();
    const r = await e.review(review);
    cold.push(performance.now() - t);
    if (!responseOf(r).allowed) throw new Error(`cold review denied: ${JSON.stringify(responseOf(r))}`);
    await e.close();
  }

  const e = engineUnderTest(policies);
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    tls,
    handleReview: e.engine.handle,
    readiness: () => ({ ready: true, reasons: [] }),
    metrics: e.metrics,
    logger: createLogger({ destination: quiet }),
  });
  const canned = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: review.request.uid, allowed: true },
  });
  const bare = fastify({
    https: { key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile) },
    bodyLimit: 6 * 1024 * 1024,
  });
  bare.post('/validate', async (_req, reply) =>
    reply.header('content-type', 'application/json').send(canned),
  );
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const bareAddress = bare.server.address();
  const barePort = typeof bareAddress === 'object' && bareAddress !== null ? bareAddress.port : 0;

  const baseline = await load(`https://127.0.0.1:${barePort}/validate`, body, ca, warmRequests);
  const warm = await load(`${server.url}/validate`, body, ca, warmRequests);
  const verifications = await e.verifications();

  const f = (n: number): string => n.toFixed(2);
  console.log(
    `\nsigward webhook bench: Pod review of a keyless-signed image (cosign v3 bundle, docker-registry on 127.0.0.1), HTTPS, ${connections} keep-alive connections, ${warmRequests} warm requests, ${coldRuns} cold reviews`,
  );
  console.log('case                                   req/s    p50 ms   p99 ms');
  console.log('-------------------------------------  -------  -------  -------');
  console.log(
    `bare fastify, canned reply (baseline)  ${baseline.rps.toFixed(0).padStart(7)}  ${f(baseline.p50).padStart(7)}  ${f(baseline.p99).padStart(7)}`,
  );
  console.log(
    `sigward /validate, warm (cache hit)    ${warm.rps.toFixed(0).padStart(7)}  ${f(warm.p50).padStart(7)}  ${f(warm.p99).padStart(7)}`,
  );
  console.log(
    `sigward review, cold (empty caches)          -  ${f(median(cold)).padStart(7)}  ${f(Math.max(...cold)).padStart(7)}   (engine only; p99 column = max)`,
  );
  const mem = process.memoryUsage();
  console.log(`verifications during the warm run: ${verifications} (one, then cache hits)`);
  console.log(
    `memory after the run (this process: bench + registry client + both servers): rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB`,
  );
  await server.shutdown();
  await bare.close();
  await e.close();
} finally {
  await registry.stop();
}
