// Profiling aid for the warm /validate path (#14): serves cache hits like bench/measure.ts's webhook
// mode while bench/load.ts drives it, so `node --cpu-prof bench/profile-warm.ts` profiles only that.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-warm.ts [CONNECTIONS] [REQUESTS]
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { makeTestTls } from '../test/support/tls.ts';
import { RegistryClient } from '../src/oci/client.ts';
import * as harness from '../test/engine/harness.ts';
import { kubewarden } from '../test/sigstore/discover-fixtures.ts';
import { startServer } from '../src/server/serve.ts';
import { createLogger } from '../src/telemetry/logger.ts';

const connections = process.argv[2] ?? '16';
const requests = process.argv[3] ?? '20000';
const here = fileURLToPath(new URL('.', import.meta.url));
const registry = await startDockerRegistry();
const setup = new RegistryClient();
await harness.pushFixtures(registry.host);
const policy = harness.clusterPolicy(
  'kubewarden',
  ['127.0.0.1:*/signed/**'],
  [harness.kubewardenAuthority()],
  {},
  1,
);
const review = harness.podReview([`${registry.host}/signed/kubewarden@${kubewarden.digest}`]);
const dir = mkdtempSync(join(tmpdir(), 'sigward-profile-'));
const tls = makeTestTls(dir);
writeFileSync(join(dir, 'review.json'), JSON.stringify(review));
writeFileSync(join(dir, 'ca.pem'), tls.caPem);
const w = harness.engineUnderTest([policy], { deadlineMs: 60_000 });
await w.review(review);
const server = await startServer({
  host: '127.0.0.1',
  port: 0,
  tls,
  handleReview: w.engine.handle,
  readiness: () => ({ ready: true, reasons: [] }),
  metrics: w.metrics,
  logger: createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) }),
});
const cpu = process.cpuUsage();
const { stdout } = await promisify(execFile)(process.execPath, [
  join(here, 'load.ts'),
  `${server.url}/validate`,
  join(dir, 'review.json'),
  join(dir, 'ca.pem'),
  connections,
  requests,
]);
const used = process.cpuUsage(cpu);
console.log(stdout.trim(), `server CPU µs/req ${((used.user + used.system) / Number(requests)).toFixed(0)}`);
await server.shutdown();
await w.close();
await setup.close();
await registry.stop();
