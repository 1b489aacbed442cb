// The floor of one cosign v3 bundle's verification (#14): every node:crypto operation one
// verifyBundle makes with a warm trust root (signature checks with the key's role, hashes, key and
// certificate decodings), each timed natively in isolation on the very same inputs (a loop of that
// one call, medians of rounds; bench/crypto-trace.ts), and their sum beside the whole verification's CPU.
//   node bench/crypto-floor.ts [RUNS]
import type * as NodeCrypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseBundle } from '../src/sigstore/bundle.ts';
import { CachedCertificate } from '../src/sigstore/cached-certificate.ts';
import { verifyBundle } from '../src/sigstore/verify.ts';
import { kubewarden } from '../test/sigstore/discover-fixtures.ts';
import { prodRoot } from '../test/sigstore/ext.ts';
import { cpuMicrosPerCall, timeOperations, traceCrypto } from './crypto-trace.ts';
import { leafMemoOff } from './leaf-memo-off.ts';

const runs = Number(process.argv[2] ?? '2000');
// Every check a bundle seen for the first time makes: its leaf is not remembered (leaf-memo-off.ts).
await leafMemoOff(fileURLToPath(new URL('..', import.meta.url)));
const trust = prodRoot().material;
const raw = kubewarden.bundle();
const verifyOnce = (): void => {
  verifyBundle({
    bundle: parseBundle(raw),
    trust,
    signer: { kind: 'keyless' },
    content: { kind: 'image', digest: kubewarden.digest },
  });
};

/** Which trust-root key a KeyObject is (anything else came from the bundle: its leaf). */
function keyNames(): Map<NodeCrypto.KeyObject, string> {
  const names = new Map<NodeCrypto.KeyObject, string>();
  trust.tlogs.forEach((t) => names.set(t.publicKey, `Rekor log key (${t.baseURL})`));
  trust.ctlogs.forEach((t) => names.set(t.publicKey, `CT log key (${t.baseURL})`));
  for (const [kind, list] of [
    ['Fulcio', trust.certificateAuthorities],
    ['TSA', trust.timestampAuthorities],
  ] as const)
    list.forEach((ca, a) =>
      ca.certChain.forEach((c, i) => {
        if (c instanceof CachedCertificate) names.set(c.keyObject, `${kind} authority ${a} chain[${i}] key`);
      }),
    );
  return names;
}

for (let i = 0; i < 300; i++) verifyOnce();
const whole = cpuMicrosPerCall(verifyOnce, runs);
const names = keyNames();
const ops = await traceCrypto(verifyOnce, (key) => names.get(key) ?? 'the bundle leaf key');
const grouped = new Map<string, { count: number; us: number }>();
let floor = 0;
for (const { what, us } of timeOperations(ops)) {
  floor += us;
  const g = grouped.get(what) ?? { count: 0, us: 0 };
  grouped.set(what, { count: g.count + 1, us: g.us + us });
}
console.log(
  `verifyBundle of the cosign v3 bundle (parse included, warm trust root): ${whole.toFixed(1)} µs CPU`,
);
console.log(`node:crypto operations it makes, each timed alone on the same inputs (µs, medians):`);
for (const [what, g] of [...grouped].sort((a, b) => b[1].us - a[1].us))
  console.log(`  ${g.us.toFixed(1).padStart(7)}  ${g.count}× ${what}`);
console.log(`sum ${floor.toFixed(1)} µs of ${whole.toFixed(1)} (${((100 * floor) / whole).toFixed(0)} %)`);
