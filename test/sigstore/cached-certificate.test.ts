// CachedCertificate and encodeDer answer exactly what @sigstore/core answers, only once: the DER of
// every certificate and RFC 3161 token in the conformance vectors and trusted roots is byte for byte
// the library's, every (certificate, issuer) check of the roots agrees with the library's (refusals
// included), a remembered answer never leaks to another certificate, and a clone can be edited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ASN1Obj, X509Certificate } from '@sigstore/core';
import { CachedCertificate } from '../../src/sigstore/cached-certificate.ts';
import { encodeDer, withFastDer } from '../../src/sigstore/der.ts';
import { derVectors as vectors, prodRoot, stagingRoot } from './ext.ts';

const parsed = (der: Buffer<ArrayBuffer>): ASN1Obj | undefined => {
  try {
    return ASN1Obj.parseBuffer(der);
  } catch {
    return undefined; // a malformed vector (a _fail case): nothing to compare
  }
};

test('encodeDer writes what ASN1Obj.toDER writes, for every certificate and timestamp of the vectors', () => {
  const { certificates, timestamps } = vectors();
  assert.ok(
    certificates.length > 100 && timestamps.length > 5,
    `${certificates.length}/${timestamps.length}`,
  );
  let compared = 0;
  for (const der of [...certificates, ...timestamps]) {
    const obj = parsed(der);
    if (obj === undefined) continue;
    const library = obj.toDER();
    assert.deepEqual(encodeDer(obj), library);
    assert.deepEqual(withFastDer(obj).toDER(), library);
    for (const sub of obj.subs) assert.deepEqual(encodeDer(sub), sub.toDER());
    compared++;
  }
  assert.ok(compared > 100);
});

test('every (certificate, issuer) pair of the trusted roots: the same answer as the library, asked twice', () => {
  const chains = [prodRoot(), stagingRoot()].flatMap((root) => [
    ...root.material.certificateAuthorities,
    ...root.material.timestampAuthorities,
  ]);
  const certs = chains.flatMap((ca) => ca.certChain);
  assert.ok(
    certs.every((c) => c instanceof CachedCertificate),
    'roots hold cached certificates',
  );
  let accepted = 0;
  let refused = 0;
  for (const cert of certs)
    for (const issuer of [undefined, ...certs] as (X509Certificate | undefined)[]) {
      const library = X509Certificate.parse(Buffer.from(cert.root.toDER()));
      const libraryIssuer: X509Certificate | undefined =
        issuer === undefined ? undefined : X509Certificate.parse(Buffer.from(issuer.root.toDER()));
      let expected: boolean;
      try {
        expected = library.verify(libraryIssuer);
      } catch {
        assert.throws(() => cert.verify(issuer));
        continue;
      }
      assert.equal(cert.verify(issuer), expected);
      assert.equal(cert.verify(issuer), expected, 'remembered: the same');
      assert.equal(cert.equals(issuer ?? cert), library.equals(libraryIssuer ?? library));
      assert.deepEqual(cert.publicKey, library.publicKey);
      if (expected) accepted++;
      else refused++;
    }
  assert.ok(accepted > 0 && refused > 0, `${accepted} accepted, ${refused} refused`);
});

test('a remembered answer belongs to one certificate: a leaf with a broken signature is refused after a good one', () => {
  const root = prodRoot().material.certificateAuthorities.find((ca) => ca.certChain.length >= 2)!;
  const [intermediate, issuer] = root.certChain as [CachedCertificate, CachedCertificate];
  assert.equal(intermediate.verify(issuer), true);
  const broken = Buffer.from(intermediate.der);
  broken[broken.length - 5]! ^= 0x01; // inside the signature value
  const tampered = CachedCertificate.of(X509Certificate.parse(broken));
  assert.equal(tampered.verify(issuer), false);
  assert.equal(intermediate.verify(issuer), true);
});

test('a clone can be edited (verifySCTs removes an extension) without touching the original', () => {
  const leaf = prodRoot().material.certificateAuthorities.flatMap(
    (ca) => ca.certChain,
  )[0] as CachedCertificate;
  const before = Buffer.from(leaf.der);
  const clone = leaf.clone();
  assert.deepEqual(Buffer.from(clone.root.toDER()), before);
  clone.extensions.splice(0, 1);
  assert.notDeepEqual(Buffer.from(clone.tbsCertificate.toDER()), Buffer.from(leaf.tbsCertificate.toDER()));
  assert.deepEqual(leaf.der, before);
  assert.deepEqual(Buffer.from(leaf.root.toDER()), before);
});
