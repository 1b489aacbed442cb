// What was signed: simple-signing payloads, in-toto statements, layout names; prehashed signatures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { checkSimpleSigning, normaliseRepository, parseSimpleSigning } from '../../src/sigstore/payload.ts';
import { checkStatement, parseStatement } from '../../src/sigstore/statement.ts';
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  isBundleMediaType,
  legacyTag,
  referrersFallbackTag,
} from '../../src/sigstore/layout.ts';
import { verifyPrehashed } from '../../src/sigstore/prehashed.ts';
import { SigstoreErrorCode } from '../../src/sigstore/errors.ts';

const D = `sha256:${'ab'.repeat(32)}`;
const payload = (critical: object, optional: unknown = null): Buffer =>
  Buffer.from(JSON.stringify({ critical, optional }));
const good = {
  identity: { 'docker-reference': 'index.docker.io/library/nginx' },
  image: { 'docker-manifest-digest': D },
  type: 'cosign container image signature',
};
const mismatch = (fn: () => void, message: RegExp): void =>
  assert.throws(fn, (e: { code?: string; message?: string }) => {
    assert.equal(e.code, SigstoreErrorCode.contentMismatch);
    assert.match(e.message ?? '', message);
    return true;
  });

test('simple-signing: type, digest and repository are checked', () => {
  const p = parseSimpleSigning(payload(good));
  checkSimpleSigning(p, { digest: D });
  checkSimpleSigning(p, { digest: D, repository: 'nginx' });
  checkSimpleSigning(p, { digest: D, repository: 'docker.io/library/nginx' });
  checkSimpleSigning(p, {
    digest: D,
    repository: { registry: 'index.docker.io', repository: 'library/nginx' },
  });
  mismatch(
    () => checkSimpleSigning(p, { digest: `sha256:${'cd'.repeat(32)}` }),
    /expected digest sha256:cdcd.*, found sha256:abab/,
  );
  mismatch(
    () => checkSimpleSigning(p, { digest: D, repository: 'ghcr.io/library/nginx' }),
    /expected ghcr.io\/library\/nginx, found index.docker.io\/library\/nginx/,
  );
  mismatch(
    () =>
      checkSimpleSigning(parseSimpleSigning(payload({ ...good, type: 'atomic container signature' })), {
        digest: D,
      }),
    /expected type "cosign container image signature", found "atomic container signature"/,
  );
  mismatch(
    () =>
      checkSimpleSigning(
        parseSimpleSigning(payload({ ...good, identity: { 'docker-reference': 'Not A Ref!' } })),
        { digest: D, repository: 'nginx' },
      ),
    /names no valid repository/,
  );
});

test('simple-signing: malformed payloads are malformed', () => {
  for (const bad of [
    Buffer.from('nope'),
    Buffer.from('{}'),
    payload({ ...good, image: {} }),
    payload(good, 'x'),
  ]) {
    assert.throws(() => parseSimpleSigning(bad), { code: SigstoreErrorCode.bundleMalformed });
  }
});

test('repository normalisation follows oci/reference', () => {
  assert.equal(
    normaliseRepository('docker.io/nginx:1.27@sha256:' + 'a'.repeat(64)),
    'index.docker.io/library/nginx',
  );
  assert.equal(normaliseRepository('localhost:5000/app:tag'), 'localhost:5000/app');
  assert.equal(normaliseRepository('GHCR.io/o/app'), 'ghcr.io/o/app');
});

const statement = (o: object): Buffer =>
  Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: 'ab'.repeat(32) } }],
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
      predicate: {},
      ...o,
    }),
  );

test('in-toto: payloadType, _type, subject digest and predicate type are checked', () => {
  const s = parseStatement('application/vnd.in-toto+json', statement({}));
  checkStatement(s, { digests: [D], predicateType: COSIGN_SIGN_PREDICATE_TYPE });
  checkStatement(s, { digests: [D.toUpperCase().replace('SHA256', 'sha256')] });
  mismatch(
    () => parseStatement('application/json', statement({})),
    /expected payloadType application\/vnd.in-toto\+json, found application\/json/,
  );
  mismatch(() => parseStatement('application/vnd.in-toto+json', statement({ _type: 'x' })), /unknown _type/);
  mismatch(() => parseStatement('application/vnd.in-toto+json', statement({ subject: [] })), /no subject/);
  mismatch(
    () => parseStatement('application/vnd.in-toto+json', statement({ subject: [{ name: 'x' }] })),
    /no digest/,
  );
  mismatch(() => parseStatement('application/vnd.in-toto+json', Buffer.from('{')), /not JSON/);
  mismatch(
    () => checkStatement(s, { digests: [`sha256:${'cd'.repeat(32)}`] }),
    /expected subject sha256:cdcd.*, found sha256:abab/,
  );
  mismatch(
    () => checkStatement(s, { digests: [D], predicateType: 'https://slsa.dev/provenance/v1' }),
    /expected https:\/\/slsa.dev\/provenance\/v1, found https:\/\/sigstore.dev\/cosign\/sign\/v1/,
  );
});

test('layout: tags and media types', () => {
  assert.equal(legacyTag(D), `sha256-${'ab'.repeat(32)}.sig`);
  assert.equal(legacyTag(D, 'attestation'), `sha256-${'ab'.repeat(32)}.att`);
  assert.equal(referrersFallbackTag(D), `sha256-${'ab'.repeat(32)}`);
  assert.throws(() => legacyTag('latest'));
  assert.ok(isBundleMediaType('application/vnd.dev.sigstore.bundle.v0.3+json'));
  assert.ok(isBundleMediaType('application/vnd.dev.sigstore.bundle+json;version=0.1'));
  assert.ok(!isBundleMediaType('application/vnd.dev.cosign.simplesigning.v1+json'));
});

test('prehashed verification: ECDSA P-256/P-384 and RSA, wrong digest or signature fails', () => {
  const data = Buffer.from('artifact');
  for (const [curve, hash] of [
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
  ] as const) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const sig = sign(hash, data, privateKey);
    const digest = createHash(hash).update(data).digest();
    assert.equal(verifyPrehashed(publicKey, hash, digest, sig), true, curve);
    assert.equal(verifyPrehashed(publicKey, hash, createHash(hash).update('other').digest(), sig), false);
    const bad = Buffer.from(sig);
    bad[bad.length - 1]! ^= 1;
    assert.equal(verifyPrehashed(publicKey, hash, digest, bad), false);
    assert.equal(verifyPrehashed(publicKey, hash, digest, Buffer.from('junk')), false);
  }
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaSig = sign('sha256', data, rsa.privateKey);
  assert.equal(
    verifyPrehashed(rsa.publicKey, 'sha256', createHash('sha256').update(data).digest(), rsaSig),
    true,
  );
  assert.equal(
    verifyPrehashed(rsa.publicKey, 'sha256', createHash('sha256').update('x').digest(), rsaSig),
    false,
  );
  const ed = generateKeyPairSync('ed25519');
  assert.equal(
    verifyPrehashed(
      ed.publicKey,
      'sha256',
      createHash('sha256').update(data).digest(),
      sign(null, data, ed.privateKey),
    ),
    false,
  );
});

test('configured public keys: PEM parses, anything else is SIGSTORE_KEY_MALFORMED', async () => {
  const { publicKeyFromPem } = await import('../../src/sigstore/keys.ts');
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  assert.equal(
    publicKeyFromPem(publicKey.export({ format: 'pem', type: 'spki' }).toString()).asymmetricKeyType,
    'ec',
  );
  assert.throws(() => publicKeyFromPem('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'), {
    code: SigstoreErrorCode.keyMalformed,
  });
  // A private key is never accepted where a public key is configured.
  assert.throws(() => publicKeyFromPem(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()), {
    code: SigstoreErrorCode.keyMalformed,
  });
});
