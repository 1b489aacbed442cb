// `npm run bench:recheck`: what one continuous re-check round costs over many running Pods that share
// few digests (the usual shape: a Deployment's replicas run one digest). Debian's docker-registry on
// 127.0.0.1 holds `--digests` images signed with a key; `--pods` Pods spread over 10 namespaces run
// them (imageID set). Measured in the same run, on the same engine:
//   baseline  every Pod decided through the Decider (what re-checking without the round's memo would
//             do: verdict cache hits after the first of each digest);
//   round     RecheckScheduler.recheckAll (one decision per digest and policy set, memo for the rest).
// A warm-up round fills the verdict cache first, so both rows measure the cache-hit path, not crypto.
//
//   npm run bench:recheck                          # 2000 Pods, 20 digests, 5 runs each
//   npm run bench:recheck -- --pods=10000 --runs=3
import { parseArgs } from 'node:util';
import { RegistryClient } from '../src/oci/client.ts';
import { RecheckScheduler } from '../src/engine/recheck.ts';
import type { RunningPod } from '../src/engine/recheck-sites.ts';
import { TokenBucket } from '../src/kube/token-bucket.ts';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { pushTestImage } from '../test/support/images.ts';
import { pushLegacySignature, testSigner } from '../test/sigstore/discover-fixtures.ts';
import { clusterPolicy, engineUnderTest, pemOf } from '../test/engine/harness.ts';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '2000' },
    digests: { type: 'string', default: '20' },
    runs: { type: 'string', default: '5' },
  },
});
const podCount = Number(values.pods);
const digestCount = Number(values.digests);
const runs = Math.max(3, Number(values.runs));

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const registry = await startDockerRegistry();
const client = new RegistryClient();
const signer = testSigner();
const images: string[] = [];
try {
  for (let i = 0; i < digestCount; i++) {
    const repo = { registry: registry.host, repository: `apps/svc-${i}` };
    const { digest } = await pushTestImage(client, repo, { tag: 'v1' });
    await pushLegacySignature(client, repo, digest, [
      signer.layerFor(digest, `${registry.host}/${repo.repository}`),
    ]);
    images.push(`${registry.host}/${repo.repository}@${digest}`);
  }
} finally {
  await client.close();
}

const policy = clusterPolicy(
  'ci-key',
  ['127.0.0.1:*/apps/**'],
  [{ name: 'ci-key', key: { data: pemOf(signer.publicKey) }, insecureIgnoreTlog: true }],
);
const e = engineUnderTest([policy]);
const snapshot = e.setPolicies([policy]);
const pods: RunningPod[] = Array.from({ length: podCount }, (_, i) => {
  const namespace = `team-${i % 10}`;
  const byDigest = images[i % digestCount]!;
  const image = byDigest.replace('@', ':v1@').replace(/@.*$/, '');
  return {
    key: `${namespace}/pod-${i}`,
    namespace,
    name: `pod-${i}`,
    uid: `uid-${i}`,
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `pod-${i}`, namespace, uid: `uid-${i}` },
      spec: { containers: [{ name: 'app', image }] },
      status: { containerStatuses: [{ name: 'app', imageID: byDigest }] },
    },
  };
});

let decisions = 0;
const scheduler = new RecheckScheduler(
  {
    decider: e.decider,
    policies: { current: () => snapshot },
    limit: new TokenBucket({ burst: 1e9, perSecond: 1e9 }),
    skip: { ownNamespace: 'sigward', scope: 'opt-out' },
    sink: { write: async () => undefined },
    observer: { decision: () => decisions++ },
  },
  { intervalMs: 0, concurrency: 8, flushEvery: 1e9 },
);
await scheduler.start();
scheduler.podsChanged(pods, []);
await scheduler.idle(); // warm-up: every digest verified once, the verdict cache filled
const verified = await e.verifications();

async function time(once: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  await once();
  const used = process.cpuUsage(cpu);
  return { wall: performance.now() - t, cpu: (used.user + used.system) / 1000 };
}

const baseline: Array<{ wall: number; cpu: number }> = [];
const round: Array<{ wall: number; cpu: number }> = [];
for (let r = 0; r < runs; r++) {
  baseline.push(
    await time(async () => {
      const work = [...pods];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let pod = work.pop(); pod !== undefined; pod = work.pop()) {
            const { containers } = pod.object['spec'] as { containers: Array<{ image: string }> };
            const imageID = (pod.object['status'] as { containerStatuses: Array<{ imageID: string }> })
              .containerStatuses[0]!.imageID;
            const pinned = `${containers[0]!.image}@${imageID.slice(imageID.indexOf('@') + 1)}`;
            await e.decider.decide(
              [{ field: 'spec.containers[0].image', image: pinned }],
              { namespace: pod.namespace },
              snapshot,
            );
          }
        }),
      );
    }),
  );
  const before = decisions;
  round.push(
    await time(async () => {
      scheduler.recheckAll('periodic');
      await scheduler.idle();
    }),
  );
  if (decisions - before !== digestCount)
    throw new Error(`a round made ${decisions - before} decisions, not ${digestCount}`);
}
await scheduler.stop();
await e.close();
await registry.stop();

const b = { wall: median(baseline.map((x) => x.wall)), cpu: median(baseline.map((x) => x.cpu)) };
const o = { wall: median(round.map((x) => x.wall)), cpu: median(round.map((x) => x.cpu)) };
console.log(
  `${podCount} Pods, ${digestCount} digests, 10 namespaces; medians of ${runs} runs (verdict cache warm; ${verified} verifications in the warm-up)`,
);
console.log(
  `  baseline: every Pod through the Decider   ${b.wall.toFixed(0)} ms wall, ${b.cpu.toFixed(0)} ms CPU, ${podCount} decisions`,
);
console.log(
  `  re-check round (one decision per digest)  ${o.wall.toFixed(0)} ms wall, ${o.cpu.toFixed(0)} ms CPU, ${digestCount} decisions`,
);
console.log(
  `  ratio round / baseline: wall ${(o.wall / b.wall).toFixed(2)}, CPU ${(o.cpu / b.cpu).toFixed(2)}`,
);
