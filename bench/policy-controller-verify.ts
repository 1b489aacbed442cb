// The `verifyImage alone` participant of `npm run bench:policy-controller` (`--verify-alone`): a child
// process (forked with the chart's NODE_OPTIONS, as the webhook runs) that verifies the bench's signed
// image in the repositories it is sent, with verifyImage and one long-lived RegistryClient, as
// `npm run bench`'s verify mode does, but counted as the webhook is: the process's whole CPU (every
// thread: collections and compilation included) over the run / images, not a median of single
// verifications. Beside the webhook's cold rows it splits a cold review into the verification and what
// the webhook adds (HTTPS, the AdmissionReview, the engine's miss path, logging and metrics).
// IPC: {connections, repositories} → {requests, rps, p50Ms, p99Ms, cpuMsPerReview, sysMsPerReview}.
//   (forked by bench/policy-controller.ts; argv: REGISTRY DIGEST SUBJECT ISSUER)
import { fileURLToPath } from 'node:url';
import { RegistryClient } from '../src/oci/client.ts';
import { verifyImage } from '../src/sigstore/verify-image.ts';
import { identityCheck } from '../src/cli/identity-flags.ts';
import { compileIdentity } from '../src/policy/identity.ts';
import { prodRoot } from '../test/sigstore/ext.ts';
import { quantile } from './post-review.ts';
import { leafMemoOff } from './leaf-memo-off.ts';

const [registry, digest, subject, issuer] = process.argv.slice(2);
if (registry === undefined || digest === undefined || subject === undefined || issuer === undefined)
  throw new Error('usage: policy-controller-verify.ts REGISTRY DIGEST SUBJECT ISSUER (forked, IPC)');
const client = new RegistryClient();
// Every repository holds the same signature: its leaf as one seen for the first time (leaf-memo-off.ts).
await leafMemoOff(fileURLToPath(new URL('..', import.meta.url)));
const trust = prodRoot().material;
const authority = {
  kind: 'keyless',
  name: 'release-workflow',
  match: identityCheck(compileIdentity({ subject, issuer })),
} as const;

async function verify(repository: string): Promise<number> {
  const started = performance.now();
  const verdict = await verifyImage({
    client,
    image: { repository: { registry: registry!, repository }, digest: digest! },
    authorities: [authority],
    trust,
  });
  if (verdict.status !== 'verified') throw new Error(`${repository}: ${verdict.code} ${verdict.message}`);
  return performance.now() - started;
}

/** The same shape as the load client's answer, plus the CPU the webhook's rows take from /proc. */
async function run(connections: number, repositories: readonly string[]) {
  let next = 0;
  // CPU over every image, as the webhook's rows count every review; latencies, as the load client's,
  // without the first `connections` (they open the connections).
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: connections }, () => verify(repositories[next++]!)));
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < repositories.length) latencies.push(await verify(repositories[next++]!));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const sorted = latencies.sort((a, b) => a - b);
  return {
    requests: sorted.length,
    rps: sorted.length / seconds,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    cpuMsPerReview: (used.user + used.system) / 1000 / repositories.length,
    sysMsPerReview: used.system / 1000 / repositories.length,
  };
}

process.on('message', (message: { connections: number; repositories: string[] } | 'stop') => {
  if (message === 'stop') {
    void client.close().then(() => process.disconnect());
    return;
  }
  run(message.connections, message.repositories).then(
    (result) => process.send!({ result }),
    (error: unknown) => process.send!({ error: String(error) }),
  );
});
process.send!({ ready: true });
