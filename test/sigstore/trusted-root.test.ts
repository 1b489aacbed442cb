// trusted_root.json → snapshot: version is the sha256 of the bytes; authorities without
// validFor.start are refused (the library alone accepts them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadTrustRoot } from '../../src/sigstore/trusted-root.ts';
import { SigstoreErrorCode } from '../../src/sigstore/errors.ts';
import { PROD_ROOT_PATH } from './ext.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const prod = readFileSync(PROD_ROOT_PATH);
const mutate = (f: (j: Json) => void): Buffer => {
  const j = JSON.parse(prod.toString()) as Json;
  f(j);
  return Buffer.from(JSON.stringify(j));
};
const refused = (bytes: Buffer, message: RegExp): void =>
  assert.throws(
    () => loadTrustRoot(bytes, 't'),
    (e: { code?: string; message?: string }) => {
      assert.equal(e.code, SigstoreErrorCode.trustRootInvalid);
      assert.match(e.message ?? '', message);
      return true;
    },
  );

test('the prod root loads; its version is the sha256 of its bytes', () => {
  const s = loadTrustRoot(prod, 'file:prod');
  assert.equal(s.version, `sha256:${createHash('sha256').update(prod).digest('hex')}`);
  assert.equal(s.source, 'file:prod');
  assert.ok(s.material.certificateAuthorities.length >= 2);
  assert.ok(s.material.timestampAuthorities.length >= 1);
  // Same content, other bytes (whitespace): another version, so caches never mix them.
  assert.notEqual(
    loadTrustRoot(Buffer.from(JSON.stringify(JSON.parse(prod.toString()))), 't').version,
    s.version,
  );
});

test('every kind of authority must have validFor.start', () => {
  refused(
    mutate((j) => delete j.tlogs[0].publicKey.validFor.start),
    /tlogs\[0\] \(https:\/\/rekor.sigstore.dev\) has no validFor.start/,
  );
  refused(
    mutate((j) => delete j.tlogs[0].publicKey.validFor),
    /tlogs\[0\]/,
  );
  refused(
    mutate((j) => delete j.ctlogs[1].publicKey.validFor.start),
    /ctlogs\[1\]/,
  );
  refused(
    mutate((j) => delete j.certificateAuthorities[0].validFor.start),
    /certificateAuthorities\[0\]/,
  );
  refused(
    mutate((j) => (j.timestampAuthorities[0].validFor.start = 'not a date')),
    /timestampAuthorities\[0\]/,
  );
});

test('malformed roots are refused with a reason', () => {
  refused(Buffer.from('{'), /not valid JSON/);
  refused(Buffer.from('[]'), /not a JSON object/);
  refused(
    mutate((j) => (j.mediaType = 'application/json')),
    /unknown mediaType/,
  );
  refused(
    mutate((j) => (j.tlogs = 'x')),
    /tlogs is not a list/,
  );
});
