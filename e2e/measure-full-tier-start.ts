// Warm start time of the full tier's own services: `node e2e/measure-full-tier-start.ts [runs]`
// (default 3). One discarded warm-up start first (binaries into the page cache), then `runs` measured
// starts of startFullTier (Fulcio with the CT log, TesseraCT, MariaDB + Trillian + Rekor v1), each
// stopped before the next; prints each and the median. Fulcio trusts a local OIDC issuer here, so its
// startup discovery is a loopback request as it is with the apiserver.
import { startFullTier, type FullTier } from './world/full-tier.ts';
import { startOidcIssuer } from './world/oidc-issuer.ts';
import { createRunDir } from './world/run-dir.ts';

const runs = Number(process.argv[2] ?? 3);
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const describe = (ms: FullTier['startupMs']): string =>
  `fulcio ${ms.fulcio} ms, rekor v1 ${ms.rekorV1} ms, ct log ${ms.ctlog} ms, total ${ms.total} ms`;

const issuer = await startOidcIssuer();
const samples: FullTier['startupMs'][] = [];
try {
  for (let i = 0; i <= runs; i++) {
    const runDir = createRunDir('sigward-measure-full-');
    try {
      const full = await startFullTier(runDir, { issuers: [{ url: issuer.issuer, type: 'kubernetes' }] });
      await full.stop();
      console.log(i === 0 ? `warm-up: ${describe(full.startupMs)}` : `run ${i}: ${describe(full.startupMs)}`);
      if (i > 0) samples.push(full.startupMs);
    } finally {
      runDir.remove();
    }
  }
} finally {
  await issuer.stop();
}
const key = (name: keyof FullTier['startupMs']) => Math.round(median(samples.map((s) => s[name])));
console.log(
  `median of ${runs}: ${describe({ fulcio: key('fulcio'), rekorV1: key('rekorV1'), ctlog: key('ctlog'), total: key('total') })}`,
);
