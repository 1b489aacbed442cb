// CachedCertificate and encodeDer answer exactly what @sigstore/core answers, only once: the DER of
// every certificate and RFC 3161 token in the conformance vectors and trusted roots is byte for byte
// the library's, every (certificate, issuer) check of the roots agrees with the library's (refusals
// included), a remembered answer never leaks to another certificate, and a clone can be edited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ASN1Obj, EXTENSION_OID_SCT, X509Certificate } from '@sigstore/core';
import { verifySCTs } from '@sigstore/verify/dist/key/sct.js';
import { CachedCertificate } from '../../src/sigstore/cached-certificate.ts';
import { encodeDer, encodingIn, withFastDer } from '../../src/sigstore/der.ts';
import { readDer, readDerIn } from '../../src/sigstore/der-reader.ts';
import { derVectors as vectors, ext, prodRoot, readJson, stagingRoot } from './ext.ts';

const kubewardenLeaf = (): Buffer =>
  Buffer.from(
    (
      readJson(ext('sigstore-rs/tests/data/bundle_v03.json')) as {
        verificationMaterial: { certificate: { rawBytes: string } };
      }
    ).verificationMaterial.certificate.rawBytes,
    'base64',
  );

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
  // Past the lengths it keeps at first (256 nodes), and nested: a SEQUENCE of 700 SEQUENCEs of an INTEGER.
  const inner = Buffer.concat(
    Array.from({ length: 700 }, (_, i) => Buffer.from([0x30, 0x03, 0x02, 0x01, i % 128])),
  );
  const wide = Buffer.concat([Buffer.from([0x30, 0x82, inner.length >> 8, inner.length & 0xff]), inner]);
  const obj = ASN1Obj.parseBuffer(wide);
  assert.deepEqual(encodeDer(obj), wide);
  assert.deepEqual(
    encodeDer(obj.subs[3]!),
    Buffer.from([0x30, 0x03, 0x02, 0x01, 3]),
    'and small again after',
  );
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
  const root = prodRoot().material.certificateAuthorities.flatMap(
    (ca) => ca.certChain,
  )[0] as CachedCertificate;
  // A trust-root certificate (the library's reading) and one read with readDer (a bundle's leaf).
  for (const cert of [root, CachedCertificate.read(vectors().certificates[0]!)]) {
    const before = Buffer.from(cert.der);
    const oids = cert.extensionOids().slice();
    const clone = cert.clone();
    assert.deepEqual(Buffer.from(clone.root.toDER()), before);
    clone.extensions.splice(0, 1);
    clone.extensions[0]!.subs.pop();
    assert.notDeepEqual(Buffer.from(clone.tbsCertificate.toDER()), Buffer.from(cert.tbsCertificate.toDER()));
    assert.deepEqual(cert.der, before);
    assert.deepEqual(Buffer.from(cert.root.toDER()), before);
    assert.deepEqual(
      cert.extensions.map((e) => e.subs[0]!.toOID()),
      oids,
    );
  }
});

test("a clone is new only along the path verifySCTs edits, and the SCT check reads it as the library's clone", () => {
  const { certificateAuthorities, ctlogs } = prodRoot().material;
  const leaf = CachedCertificate.read(Buffer.from(kubewardenLeaf()));
  const clone = leaf.clone();
  // New: the certificate, its TBS, the extension list and each extension; shared: all under them.
  assert.notEqual(clone.root, leaf.root);
  assert.notEqual(clone.tbsCertificate, leaf.tbsCertificate);
  assert.notEqual(clone.extensions, leaf.extensions);
  leaf.extensions.forEach((ext, i) => {
    assert.notEqual(clone.extensions[i], ext);
    ext.subs.forEach((part, j) => assert.equal(clone.extensions[i]!.subs[j], part));
  });
  [0, 1, 2, 3, 4, 5, 6].forEach((i) =>
    assert.equal(clone.tbsCertificate.subs[i], leaf.tbsCertificate.subs[i]),
  );
  assert.equal(clone.root.subs[2], leaf.root.subs[2]);
  // verifySCTs over it: the precertificate the library's own clone gives, the same SCTs verified.
  const intermediate = certificateAuthorities
    .flatMap((ca) => ca.certChain)
    .find((c) => c.subject.equals(leaf.issuer) && leaf.verify(c))!;
  const library = X509Certificate.parse(Buffer.from(leaf.der));
  assert.deepEqual(verifySCTs(leaf, intermediate, ctlogs), verifySCTs(library, intermediate, ctlogs));
  assert.equal(verifySCTs(leaf, intermediate, ctlogs).length, 1);
  assert.deepEqual(leaf.der, library.root.toDER());
  const sct = (cert: X509Certificate): Buffer => {
    const copy = cert.clone();
    const at = copy.extensions.findIndex((e) => e.subs[0]!.toOID() === EXTENSION_OID_SCT);
    copy.extensions.splice(at, 1);
    return Buffer.from(copy.tbsCertificate.toDER());
  };
  assert.deepEqual(sct(leaf), sct(library));
  assert.deepEqual(leaf.der, library.root.toDER());
});

/** The DER of an extension object's node (its `root` is protected in the typings). */
const extensionDer = (ext: unknown): Buffer | undefined =>
  (ext as { root?: ASN1Obj } | undefined)?.root?.toDER();

test("a certificate read from DER keeps those bytes as its DER and TBS: what encodeDer writes, the library's getters", () => {
  let compared = 0;
  for (const der of vectors().certificates) {
    const library = parsed(der);
    if (library === undefined) continue;
    const cert = CachedCertificate.read(der);
    const lib = new X509Certificate(library);
    assert.deepEqual(cert.der, library.toDER());
    assert.deepEqual(cert.root.subs[0]!.toDER(), lib.tbsCertificate.toDER());
    const selfSigned = (c: X509Certificate): string => {
      try {
        return String(c.verify());
      } catch {
        return 'throws';
      }
    };
    assert.equal(selfSigned(cert), selfSigned(lib), 'self-signature over the TBS bytes');
    for (const getter of [
      'extKeyUsage',
      'extBasicConstraints',
      'extSubjectAltName',
      'extAuthorityKeyID',
      'extSubjectKeyID',
      'extSCT',
    ] as const)
      assert.deepEqual(extensionDer(cert[getter]), extensionDer(lib[getter]), getter);
    assert.equal(cert.isCA, lib.isCA);
    assert.equal(cert.subjectAltName, lib.subjectAltName);
    compared++;
  }
  assert.ok(compared > 100);
  // The bytes are the certificate's own copy: changing the input afterwards changes nothing.
  const der = Buffer.from(vectors().certificates[0]!);
  const cert = CachedCertificate.read(der);
  const before = Buffer.from(cert.der);
  der.fill(0);
  assert.deepEqual(cert.der, before);
});

test('encodingIn is the encoding of every node read from those bytes, and refuses a node read elsewhere', () => {
  const { certificates, timestamps } = vectors();
  for (const der of [...certificates.slice(0, 20), ...timestamps]) {
    let obj: ASN1Obj;
    try {
      obj = readDer(der);
    } catch {
      continue;
    }
    const bytes = Buffer.from(obj.value.buffer, 0, obj.value.buffer.byteLength);
    const walk = (node: ASN1Obj): void => {
      assert.deepEqual(encodingIn(bytes, node), encodeDer(node));
      node.subs.forEach(walk);
    };
    walk(obj);
  }
  // Two copies in buffers of their own (Buffer.alloc never shares a pool slab).
  const own = (der: Buffer): Buffer => {
    const copy = Buffer.alloc(der.length);
    der.copy(copy);
    return copy;
  };
  const bytes = own(certificates[0]!);
  const elsewhere = readDerIn(own(certificates[0]!));
  assert.throws(() => encodingIn(bytes, elsewhere), /not read from these bytes/);
  assert.deepEqual(encodingIn(bytes, readDerIn(bytes)), bytes);
});

test("extensions are found as the library finds them: the first of an OID, a malformed OID throwing where the library's does", () => {
  const der = vectors().certificates.find(
    (d) => parsed(d) !== undefined && CachedCertificate.read(d).extensions.length > 3,
  )!;
  const cert = CachedCertificate.read(der);
  const lib = new X509Certificate(parsed(der)!);
  const oids = lib.extensions.map((e) => e.subs[0]!.toOID());
  assert.deepEqual(cert.extensionOids(), oids);
  for (const oid of [...oids, '1.2.3.4']) {
    const ours = cert.extensionFor(oid);
    const theirs = lib.extensions.find((e) => e.subs[0]!.toOID() === oid);
    assert.deepEqual(ours && encodeDer(ours), theirs && theirs.toDER(), oid);
  }
  // A duplicate OID later in the list: the first one is the answer.
  const first = cert.extensions[0]!;
  const twice = CachedCertificate.read(der);
  twice.extensions.push(withFastDer(twice.extensions[1]!));
  twice.extensions[twice.extensions.length - 1]!.subs[0] = first.subs[0]!;
  assert.equal(twice.extensionFor(oids[0]!), twice.extensions[0]);
  // An extension whose first element is not an OID: found ones before it still answer, later ones throw.
  const broken = CachedCertificate.read(der);
  broken.extensions[2]!.subs[0] = readDer(Buffer.from([0x04, 0x01, 0x00]));
  assert.equal(broken.extensionFor(oids[1]!), broken.extensions[1]);
  assert.throws(() => broken.extensionFor(oids[3]!), /not an OID/);
  assert.throws(() => broken.extensionOids(), /not an OID/);
  // The library's getters go through it (a release renaming findExtension would fail here).
  const counted = CachedCertificate.read(der);
  let asked = 0;
  const own = counted.extensionFor.bind(counted);
  counted.extensionFor = (oid: string) => {
    asked++;
    return own(oid);
  };
  void counted.extBasicConstraints;
  void counted.extSubjectAltName;
  assert.equal(asked, 2);
});
