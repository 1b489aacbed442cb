// The floor of one cosign v3 bundle's verification (#14): every node:crypto operation one
// verifyBundle makes with a warm trust root (signature checks with the key's role, hashes, key and
// certificate decodings), each timed natively in isolation on the very same inputs (a loop of that
// one call, medians of rounds), and their sum beside the whole verification's CPU.
//   node bench/crypto-floor.ts [RUNS]
// The library reaches node:crypto through `require('crypto')` and sigward through ESM imports: both
// see the wrappers (the CommonJS object is patched, then `syncBuiltinESMExports`).
import type * as NodeCrypto from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseBundle } from '../src/sigstore/bundle.ts';
import { CachedCertificate } from '../src/sigstore/cached-certificate.ts';
import { verifyBundle } from '../src/sigstore/verify.ts';
import { kubewarden } from '../test/sigstore/discover-fixtures.ts';
import { prodRoot } from '../test/sigstore/ext.ts';
import { median } from './stats.ts';
import { leafMemoOff } from './leaf-memo-off.ts';

const runs = Number(process.argv[2] ?? '2000');
const nodeCrypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
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

interface Operation {
  readonly what: string;
  readonly replay: () => unknown;
}

/** Every node:crypto operation `run` makes, with a closure repeating it on the same inputs. */
function trace(run: () => void): Operation[] {
  const names = keyNames();
  const keyName = (key: NodeCrypto.KeyObject): string => {
    const d = key.asymmetricKeyDetails;
    const type = `${key.asymmetricKeyType}/${d?.namedCurve ?? d?.modulusLength ?? ''}`;
    return `${type}, ${names.get(key) ?? 'the bundle leaf key'}`;
  };
  const ops: Operation[] = [];
  const saved = {
    verify: nodeCrypto.verify,
    createHash: nodeCrypto.createHash,
    hash: nodeCrypto.hash,
    createPublicKey: nodeCrypto.createPublicKey,
    X509Certificate: nodeCrypto.X509Certificate,
    timingSafeEqual: nodeCrypto.timingSafeEqual,
  };
  const patch = nodeCrypto as unknown as Record<string, unknown>;
  patch['verify'] = (alg: string | null, data: Buffer, key: NodeCrypto.KeyObject, sig: Buffer) => {
    ops.push({
      what: `verify ${keyName(key)}, ${alg ?? 'key default hash'}, ${data.length} bytes`,
      replay: () => saved.verify(alg, data, key, sig),
    });
    return saved.verify(alg, data, key, sig);
  };
  patch['createHash'] = (alg: string) => {
    const parts: Buffer[] = [];
    const hash = saved.createHash(alg);
    const update = hash.update.bind(hash);
    const op = { what: '', replay: (): unknown => undefined };
    ops.push(op);
    hash.update = ((data: Buffer | string, enc?: NodeCrypto.Encoding) => {
      parts.push(typeof data === 'string' ? Buffer.from(data, enc ?? 'utf8') : Buffer.from(data));
      const total = Buffer.concat(parts);
      op.what = `createHash ${alg}, ${parts.length} update(s), ${total.length} bytes`;
      op.replay = () => {
        const h = saved.createHash(alg);
        for (const p of parts) h.update(p);
        return h.digest();
      };
      return update(data as Buffer);
    }) as typeof hash.update;
    return hash;
  };
  patch['hash'] = (alg: string, data: Buffer, enc?: NodeCrypto.BinaryToTextEncoding) => {
    ops.push({ what: `hash ${alg}, ${data.length} bytes`, replay: () => saved.hash(alg, data, enc) });
    return saved.hash(alg, data, enc);
  };
  patch['createPublicKey'] = (input: NodeCrypto.PublicKeyInput) => {
    ops.push({ what: 'createPublicKey', replay: () => saved.createPublicKey(input) });
    return saved.createPublicKey(input);
  };
  patch['X509Certificate'] = function (der: Buffer) {
    ops.push({
      what: `new X509Certificate, ${der.length} bytes`,
      replay: () => new saved.X509Certificate(der),
    });
    return new saved.X509Certificate(der);
  };
  patch['timingSafeEqual'] = (a: Buffer, b: Buffer) => {
    ops.push({ what: `timingSafeEqual ${a.length} bytes`, replay: () => saved.timingSafeEqual(a, b) });
    return saved.timingSafeEqual(a, b);
  };
  syncBuiltinESMExports();
  try {
    run();
  } finally {
    Object.assign(patch, saved);
    syncBuiltinESMExports();
  }
  return ops;
}

/** µs per call of `fn`, median of 7 rounds of `n` calls. */
function time(fn: () => unknown, n: number): number {
  for (let i = 0; i < Math.min(n, 200); i++) fn();
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const used = process.cpuUsage(start);
    rounds.push((used.user + used.system) / n);
  }
  return median(rounds);
}

for (let i = 0; i < 300; i++) verifyOnce();
const whole = time(verifyOnce, runs);
const ops = trace(verifyOnce);
const grouped = new Map<string, { count: number; us: number }>();
let floor = 0;
for (const op of ops) {
  const us = time(op.replay, op.what.startsWith('verify') ? 400 : 4000);
  floor += us;
  const g = grouped.get(op.what) ?? { count: 0, us: 0 };
  grouped.set(op.what, { count: g.count + 1, us: g.us + us });
}
console.log(
  `verifyBundle of the cosign v3 bundle (parse included, warm trust root): ${whole.toFixed(1)} µs CPU`,
);
console.log(`node:crypto operations it makes, each timed alone on the same inputs (µs, medians):`);
for (const [what, g] of [...grouped].sort((a, b) => b[1].us - a[1].us))
  console.log(`  ${g.us.toFixed(1).padStart(7)}  ${g.count}× ${what}`);
console.log(`sum ${floor.toFixed(1)} µs of ${whole.toFixed(1)} (${((100 * floor) / whole).toFixed(0)} %)`);
