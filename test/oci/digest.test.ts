import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import { digestOf, digestTag, referrersTag, verifyDigest } from '../../src/oci/digest.ts';

const hex = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

test('sha256 of nothing', () => {
  assert.equal(digestOf(new Uint8Array()), `sha256:${hex}`);
  assert.match(digestOf(new Uint8Array(), 'sha512'), /^sha512:[0-9a-f]{128}$/);
});

test('verifyDigest accepts the right bytes and refuses others with REGISTRY_DIGEST_MISMATCH', () => {
  verifyDigest(new Uint8Array(), `sha256:${hex}`);
  verifyDigest(Buffer.from('x'), digestOf(Buffer.from('x'), 'sha512'));
  assert.throws(
    () => verifyDigest(Buffer.from('x'), `sha256:${hex}`),
    (e: unknown) => e instanceof SigwardError && e.code === 'REGISTRY_DIGEST_MISMATCH',
  );
  assert.throws(
    () => verifyDigest(Buffer.from('x'), 'md5:abc'),
    (e: unknown) => e instanceof SigwardError && e.code === 'REGISTRY_PROTOCOL',
  );
});

test('digest tags', () => {
  assert.equal(referrersTag(`sha256:${hex}`), `sha256-${hex}`);
  assert.equal(digestTag(`sha256:${hex}`, 'sig'), `sha256-${hex}.sig`);
  const long = `sha512:${'c'.repeat(128)}`;
  assert.equal(referrersTag(long), `sha512-${'c'.repeat(64)}`);
  assert.throws(() => referrersTag('sha256:nothex'), /valid digest/);
});
