// Whatever a bundle contains, verification ends in a result or a SigstoreError with a code: library
// exceptions of other types (TypeError, ASN.1, JSON) never escape. Each string leaf of real bundles is
// replaced by a few corruptions, deterministically. And no meaningful corruption is accepted: the only
// ones that pass are base64 with a trailing stray character (it decodes to the same bytes) and the
// inclusion proof's own rootHash/treeSize, which nothing trusts (the signed checkpoint is used).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBundle } from '../../src/sigstore/bundle.ts';
import { SigstoreError } from '../../src/sigstore/errors.ts';
import { verifyBundle } from '../../src/sigstore/verify.ts';
import type { SignedContent } from '../../src/sigstore/verify.ts';
import { ext, prodRoot, readJson } from './ext.ts';

type Json = unknown;

function leaves(value: Json, path: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof value === 'string') return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...path, i]));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [];
}

function setAt(root: Json, path: Array<string | number>, v: string): Json {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const p of path.slice(0, -1)) node = node[p] as Record<string | number, unknown>;
  node[path.at(-1)!] = v;
  return copy;
}

function corruptions(s: string): string[] {
  const out = ['', 'x', `${s}A`, s.slice(0, Math.floor(s.length / 2))];
  const b = Buffer.from(s, 'base64');
  if (b.length > 8 && b.toString('base64') === s) {
    for (const at of [0, 1, Math.floor(b.length / 2), b.length - 1]) {
      const c = Buffer.from(b);
      c[at]! ^= 0x80;
      out.push(c.toString('base64'));
    }
  }
  return out;
}

for (const [name, file, content] of [
  [
    'cosign v3 DSSE bundle',
    'sigstore-rs/tests/data/bundle_v03.json',
    { kind: 'image', digest: 'sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172' },
  ],
  [
    'message-signature bundle v0.3',
    'sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json',
    { kind: 'artifact', digest: 'sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf' },
  ],
] as Array<[string, string, SignedContent]>) {
  test(`${name}: every corruption ends in a coded SigstoreError`, () => {
    const original = readJson(ext(file));
    let failures = 0;
    for (const path of leaves(original)) {
      const before = String(
        path.reduce<unknown>((n, p) => (n as Record<string | number, unknown>)[p], original),
      );
      for (const value of corruptions(before)) {
        try {
          verifyBundle({
            bundle: parseBundle(setAt(original, path, value) as object),
            trust: prodRoot().material,
            signer: { kind: 'keyless' },
            content,
          });
        } catch (error) {
          assert.ok(
            error instanceof SigstoreError,
            `${path.join('.')}=${value.slice(0, 20)}: ${String(error)}`,
          );
          assert.match(error.code, /^SIGSTORE_/);
          failures++;
          continue;
        }
        const field = String(path.at(-1));
        assert.ok(
          ['rootHash', 'treeSize'].includes(field) || value === `${before}A`,
          `corruption accepted: ${path.join('.')}=${value.slice(0, 40)}`,
        );
      }
    }
    assert.ok(failures > 50, `only ${failures} corruptions failed`);
  });
}

test('bundle bytes are read where they are: a view into a larger buffer, a plain Uint8Array, text', () => {
  const text = JSON.stringify(readJson(ext('sigstore-rs/tests/data/bundle_v03.json')));
  const expected = parseBundle(text);
  const bytes = Buffer.from(text);
  const padded = Buffer.concat([Buffer.from('xxxx'), bytes, Buffer.from('yyyy')]);
  assert.deepEqual(parseBundle(padded.subarray(4, 4 + bytes.length)), expected);
  const plain = new Uint8Array(padded.buffer, padded.byteOffset + 4, bytes.length);
  assert.deepEqual(parseBundle(plain), expected);
  assert.throws(() => parseBundle(padded.subarray(0, 4 + bytes.length)), SigstoreError);
});
