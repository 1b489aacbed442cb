// @sigstore/core's digest, computed with one crypto.hash: the library's bytes and errors, and the
// library's verification steps hashing through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type * as NodeCrypto from 'node:crypto';
import { crypto as sigstoreCrypto } from '@sigstore/core';
import { libraryDigest, oneShotDigest } from '../../src/sigstore/one-shot-digest.ts';
import { parseBundle } from '../../src/sigstore/bundle.ts';
import { verifyBundle } from '../../src/sigstore/verify.ts';
import { kubewarden } from './discover-fixtures.ts';
import { prodRoot } from './ext.ts';

const bytes = (n: number, seed: number): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 256));

test('the same digest as the library for every SHA-2 name it asks for, over any number of byte parts', () => {
  const partSets: Uint8Array[][] = [
    [],
    [Buffer.alloc(0)],
    [bytes(1, 1)],
    [bytes(3750, 2)],
    [Buffer.of(0x01), bytes(32, 3), bytes(32, 4)],
    [new Uint8Array(bytes(64, 5)), bytes(0, 6), new Uint8Array(bytes(200, 7).buffer, 10, 100)],
  ];
  for (const algorithm of ['sha256', 'sha384', 'sha512'])
    for (const parts of partSets) {
      const expected = libraryDigest(algorithm, ...parts);
      const actual = oneShotDigest(algorithm, ...parts);
      assert.ok(Buffer.isBuffer(actual));
      assert.deepEqual(actual, expected, `${algorithm} over ${parts.length} parts`);
    }
});

test('a text part, another algorithm, an unknown or a missing one: the library answers (its result, its error)', () => {
  assert.deepEqual(
    oneShotDigest('sha256', 'text', bytes(5, 1)),
    libraryDigest('sha256', 'text', bytes(5, 1)),
  );
  assert.deepEqual(oneShotDigest('sha256', 'only text'), libraryDigest('sha256', 'only text'));
  assert.deepEqual(oneShotDigest('sha1', bytes(10, 2)), libraryDigest('sha1', bytes(10, 2)));
  assert.deepEqual(oneShotDigest('SHA256', bytes(10, 3)), libraryDigest('SHA256', bytes(10, 3)));
  const failure = (run: () => unknown): unknown => {
    try {
      run();
    } catch (error) {
      return error;
    }
    assert.fail('expected a throw');
  };
  for (const algorithm of ['no-such-hash', undefined as unknown as string]) {
    const ours = failure(() => oneShotDigest(algorithm, bytes(4, 4))) as Error;
    const theirs = failure(() => libraryDigest(algorithm, bytes(4, 4))) as Error;
    assert.equal(ours.constructor, theirs.constructor);
    assert.equal(ours.message, theirs.message);
  }
});

test('a bundle verification hashes through the one-shot digest: no Hash object per Merkle node', () => {
  assert.equal(sigstoreCrypto.digest, oneShotDigest);
  const nodeCrypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
  const { createHash } = nodeCrypto;
  let hashObjects = 0;
  nodeCrypto.createHash = ((...args: Parameters<typeof createHash>) => {
    hashObjects++;
    return createHash(...args);
  }) as typeof createHash;
  const digest = sigstoreCrypto.digest;
  let digests = 0;
  (sigstoreCrypto as { digest: typeof digest }).digest = (...args) => {
    digests++;
    return digest(...args);
  };
  let verified;
  try {
    verified = verifyBundle({
      bundle: parseBundle(kubewarden.bundle()),
      trust: prodRoot().material,
      signer: { kind: 'keyless' },
      content: { kind: 'image', digest: kubewarden.digest },
    });
  } finally {
    nodeCrypto.createHash = createHash;
    (sigstoreCrypto as { digest: typeof digest }).digest = digest;
  }
  assert.equal(verified.contentKind, 'dsse');
  // The inclusion proof's 18 nodes and leaf, the SCT's issuer, the token's imprints, the envelope.
  assert.ok(digests >= 20, `${digests} digests`);
  assert.ok(hashObjects <= 2, `${hashObjects} Hash objects (the library's digest makes one per call)`);
});
