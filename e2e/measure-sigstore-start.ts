// Warm start time of the Sigstore services: `node e2e/measure-sigstore-start.ts [runs]` (default 3).
// One discarded warm-up start first (binaries into the page cache), then `runs` measured starts of
// startSigstore, each stopped before the next; prints each and the median. Fulcio trusts a local OIDC
// issuer here, so its startup discovery is a loopback request as it is with the apiserver.
import { startOidcIssuer } from './world/oidc-issuer.ts';
import { createRunDir } from './world/run-dir.ts';
import { startSigstore, type Sigstore } from './world/sigstore.ts';

const runs = Number(process.argv[2] ?? 3);
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

const issuer = await startOidcIssuer();
const samples: Sigstore['startupMs'][] = [];
try {
  for (let i = 0; i <= runs; i++) {
    const runDir = createRunDir('sigward-measure-');
    try {
      const sigstore = await startSigstore(runDir, { issuer: issuer.issuer });
      await sigstore.stop();
      const ms = sigstore.startupMs;
      const line = `fulcio ${ms.fulcio.toFixed(0)} ms, rekor ${ms.rekor.toFixed(0)} ms, tsa ${ms.tsa.toFixed(0)} ms, total ${ms.total.toFixed(0)} ms`;
      console.log(i === 0 ? `warm-up: ${line}` : `run ${i}: ${line}`);
      if (i > 0) samples.push(ms);
    } finally {
      runDir.remove();
    }
  }
} finally {
  await issuer.stop();
}
const key = (name: keyof Sigstore['startupMs']) => median(samples.map((s) => s[name])).toFixed(0);
console.log(
  `median of ${runs}: fulcio ${key('fulcio')} ms, rekor ${key('rekor')} ms, tsa ${key('tsa')} ms, total ${key('total')} ms`,
);
