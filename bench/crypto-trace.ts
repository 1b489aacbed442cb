// What one run costs in node:crypto alone (#14): every operation `run` makes through node:crypto
// (signature checks, hashes, key and certificate decodings), recorded with its inputs, then each
// timed natively in isolation on those very inputs (a loop of that one call, medians of rounds).
// Their sum is the floor of the run's CPU on this machine: no code of sigward's or of the libraries
// can go below it while making the same checks.
// The libraries reach node:crypto through `require('crypto')` and sigward through ESM imports: both
// see the wrappers (the CommonJS object is patched, then `syncBuiltinESMExports`). Run nothing else
// in the process meanwhile: whatever calls node:crypto during the trace is counted.
import type * as NodeCrypto from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { median } from './stats.ts';

const nodeCrypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;

export interface CryptoOperation {
  readonly what: string;
  readonly replay: () => unknown;
}

/**
 * Every node:crypto operation `run` makes, each with a closure repeating it on the same inputs;
 * `keyName` names a verifying key (its role) in the description.
 */
export async function traceCrypto(
  run: () => unknown,
  keyName: (key: NodeCrypto.KeyObject) => string = () => '',
): Promise<CryptoOperation[]> {
  const describe = (key: NodeCrypto.KeyObject): string => {
    const d = key.asymmetricKeyDetails;
    const name = keyName(key);
    return `${key.asymmetricKeyType}/${d?.namedCurve ?? d?.modulusLength ?? ''}${name === '' ? '' : `, ${name}`}`;
  };
  const ops: CryptoOperation[] = [];
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
      what: `verify ${describe(key)}, ${alg ?? 'key default hash'}, ${data.length} bytes`,
      replay: () => saved.verify(alg, data, key, sig),
    });
    return saved.verify(alg, data, key, sig);
  };
  patch['createHash'] = (alg: string) => {
    const parts: Buffer[] = [];
    const hash = saved.createHash(alg);
    const update = hash.update.bind(hash);
    const op = { what: `createHash ${alg}, nothing hashed`, replay: (): unknown => undefined };
    ops.push(op);
    hash.update = ((data: Buffer | string, enc?: NodeCrypto.Encoding) => {
      parts.push(typeof data === 'string' ? Buffer.from(data, enc ?? 'utf8') : Buffer.from(data));
      const total = parts.reduce((n, p) => n + p.length, 0);
      op.what = `createHash ${alg}, ${parts.length} update(s), ${total} bytes`;
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
    await run();
  } finally {
    Object.assign(patch, saved);
    syncBuiltinESMExports();
  }
  return ops;
}

/** µs of CPU per call of `fn`, median of `rounds` rounds of `n` calls (after a warm-up). */
export function cpuMicrosPerCall(fn: () => unknown, n: number, rounds = 7): number {
  for (let i = 0; i < Math.min(n, 200); i++) fn();
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const used = process.cpuUsage(start);
    perRound.push((used.user + used.system) / n);
  }
  return median(perRound);
}

/** Each operation timed alone (signature checks `checks` times a round, the cheap ones 10× that). */
export function timeOperations(
  ops: readonly CryptoOperation[],
  checks = 400,
  rounds = 7,
): { readonly what: string; readonly us: number }[] {
  return ops.map((op) => ({
    what: op.what,
    us: cpuMicrosPerCall(op.replay, op.what.startsWith('verify') ? checks : checks * 10, rounds),
  }));
}
