// Native memory of cold verifications: glibc's main malloc arena ([heap] in /proc/self/smaps) and RSS
// after N verifications of the real cosign v3 bundle (16 at once, as the webhook runs them), with or
// without a full collection every 50 verifications. When the forced collections keep the arena small,
// what RSS holds after a burst is native memory of dead objects waiting for a full GC, not a leak.
//   node --max-semi-space-size=2 --expose-gc bench/native-memory.ts [gc] [N]
import { readFileSync } from 'node:fs';
import { RegistryClient } from '../src/oci/client.ts';
import { verifyImage } from '../src/sigstore/verify-image.ts';
import type { Authority } from '../src/sigstore/verify-image.ts';
import { identityCheck } from '../src/cli/identity-flags.ts';
import { compileIdentity } from '../src/policy/identity.ts';
import { prodRoot } from '../test/sigstore/ext.ts';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { kubewarden, pushBundleReferrer } from '../test/sigstore/discover-fixtures.ts';

const mallocArenaMiB = (): number => {
  const smaps = readFileSync('/proc/self/smaps', 'utf8');
  const at = smaps.indexOf('[heap]');
  return at < 0 ? 0 : Number(/Rss:\s+(\d+)/.exec(smaps.slice(at))?.[1] ?? 0) / 1024;
};
const withGc = process.argv[2] === 'gc';
const n = Number(process.argv[3] ?? 1500);
const registry = await startDockerRegistry();
const client = new RegistryClient();
try {
  const repository = { registry: registry.host, repository: 'bench/native' };
  await pushBundleReferrer(client, repository, kubewarden.digest, kubewarden.bundle());
  const trust = prodRoot().material;
  const authority: Authority = {
    kind: 'keyless',
    name: 'release-workflow',
    match: identityCheck(compileIdentity({ subject: kubewarden.subject, issuer: kubewarden.issuer })),
  };
  const arenaAtStart = mallocArenaMiB();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < n) {
        const verdict = await verifyImage({
          client,
          image: { repository, digest: kubewarden.digest },
          authorities: [authority],
          trust,
        });
        if (verdict.status !== 'verified') throw new Error(`${verdict.code}: ${verdict.message}`);
        if (withGc && next % 50 === 0) globalThis.gc?.();
      }
    }),
  );
  const m = process.memoryUsage();
  const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;
  console.log(
    JSON.stringify({
      verifications: n,
      fullGcEvery50: withGc,
      mallocArenaMiB: { start: mib(arenaAtStart * 2 ** 20), end: mib(mallocArenaMiB() * 2 ** 20) },
      rssMiB: mib(m.rss),
      heapUsedMiB: mib(m.heapUsed),
      heapCommittedMiB: mib(m.heapTotal),
      externalMiB: mib(m.external),
    }),
  );
} finally {
  await client.close();
  await registry.stop();
}
