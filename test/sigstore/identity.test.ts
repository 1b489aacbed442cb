// Certificate → issuer, subject and named Fulcio extensions, on real certificates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ASN1Obj, X509Certificate } from '@sigstore/core';
import { CachedCertificate } from '../../src/sigstore/cached-certificate.ts';
import { encodeDer } from '../../src/sigstore/der.ts';
import { readDer } from '../../src/sigstore/der-reader.ts';
import {
  certificateIdentity,
  FULCIO_EXTENSION_NAMES,
  FULCIO_EXTENSIONS,
  FULCIO_LEGACY_EXTENSIONS,
  isFulcioExtensionName,
} from '../../src/sigstore/identity.ts';
import { SigstoreErrorCode } from '../../src/sigstore/errors.ts';
import { ext, readJson } from './ext.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const der = (b64: string): Buffer<ArrayBuffer> => Buffer.from(b64, 'base64');
const pemDer = (pem: string): Buffer => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');

test('GitHub Actions certificate: URI subject, .1.8 issuer, every named extension (DER and legacy raw)', () => {
  const bundle = readJson(ext('sigstore-rs/tests/data/bundle_v03.json')) as Json;
  const id = certificateIdentity(der(bundle.verificationMaterial.certificate.rawBytes));
  assert.equal(id.subjectKind, 'uri');
  assert.equal(
    id.subject,
    'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0',
  );
  assert.equal(id.issuer, 'https://token.actions.githubusercontent.com');
  assert.deepEqual(
    { ...id.extensions },
    {
      issuer: 'https://token.actions.githubusercontent.com',
      buildSignerURI:
        'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0',
      buildSignerDigest: '2a6b879b7a5ef59d7fb348d0b5d14314538ac0a6',
      runnerEnvironment: 'github-hosted',
      sourceRepositoryURI: 'https://github.com/kubewarden/kubewarden-controller',
      sourceRepositoryDigest: '2a6b879b7a5ef59d7fb348d0b5d14314538ac0a6',
      sourceRepositoryRef: 'refs/tags/v1.34.0',
      sourceRepositoryIdentifier: '318490971',
      sourceRepositoryOwnerURI: 'https://github.com/kubewarden',
      sourceRepositoryOwnerIdentifier: '80915497',
      buildConfigURI:
        'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0',
      buildConfigDigest: '2a6b879b7a5ef59d7fb348d0b5d14314538ac0a6',
      buildTrigger: 'push',
      runInvocationURI:
        'https://github.com/kubewarden/kubewarden-controller/actions/runs/24177081968/attempts/1',
      sourceRepositoryVisibilityAtSigning: 'public',
      issuerV1: 'https://token.actions.githubusercontent.com',
      githubWorkflowTrigger: 'push',
      githubWorkflowSHA: '2a6b879b7a5ef59d7fb348d0b5d14314538ac0a6',
      githubWorkflowName: 'Release',
      githubWorkflowRepository: 'kubewarden/kubewarden-controller',
      githubWorkflowRef: 'refs/tags/v1.34.0',
    },
  );
});

test('email certificate from 2022 has only the legacy .1.1 issuer; it is used as the issuer', () => {
  const id = certificateIdentity(
    pemDer(readFileSync(ext('containers-image/signature/internal/testdata/rekor-cert'), 'utf8')),
  );
  assert.equal(id.subjectKind, 'email');
  assert.equal(id.subject, 'mitr@redhat.com');
  assert.equal(id.issuer, 'https://github.com/login/oauth');
  assert.equal(id.extensions.issuer, undefined);
  assert.equal(id.extensions.issuerV1, 'https://github.com/login/oauth');
});

test('a username certificate has the OtherName SAN (.1.7) as subject', () => {
  const bundle = readJson(ext('sigstore-go/pkg/testing/data/bundles/othername.sigstore.json')) as Json;
  const id = certificateIdentity(der(bundle.verificationMaterial.certificate.rawBytes));
  assert.equal(id.subjectKind, 'username');
  assert.equal(id.subject, 'foo!oidc.local');
  assert.equal(id.issuer, 'http://oidc.local:8080');
});

test('a CA certificate has no identity; garbage is malformed', () => {
  const [root] = readFileSync(ext('containers-image/signature/fixtures/fulcio_v1.crt.pem'), 'utf8').split(
    /(?<=-----END CERTIFICATE-----)/,
  );
  const id = certificateIdentity(pemDer(root!));
  assert.equal(id.subject, undefined);
  assert.equal(id.issuer, undefined);
  assert.throws(() => certificateIdentity(Buffer.from('nope')), { code: SigstoreErrorCode.bundleMalformed });
});

test('extension names are the Fulcio table names', () => {
  assert.equal(FULCIO_EXTENSION_NAMES.length, 17 + 6);
  assert.ok(isFulcioExtensionName('sourceRepositoryVisibilityAtSigning'));
  assert.ok(isFulcioExtensionName('githubWorkflowRef'));
  assert.ok(!isFulcioExtensionName('toString'));
});

test('every Fulcio extension reads as the library reads it, for every certificate of the conformance vectors', () => {
  const certificates: Buffer<ArrayBuffer>[] = [];
  const cases = ext('sigstore-conformance/bundle-verify');
  for (const name of readdirSync(cases)) {
    const path = join(cases, name, 'bundle.sigstore.json');
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8').replace(/\s+/g, '');
    for (const m of text.matchAll(/"rawBytes":"([A-Za-z0-9+/=]+)"/g)) certificates.push(der(m[1]!));
  }
  let compared = 0;
  for (const bytes of certificates) {
    let cert: X509Certificate;
    try {
      cert = X509Certificate.parse(bytes);
    } catch {
      continue; // a malformed vector (a _fail case)
    }
    let id;
    try {
      id = certificateIdentity(cert);
    } catch {
      continue; // an extension that is not DER: refused before any comparison matters
    }
    const library: Record<string, string> = {};
    for (const [name, oid] of Object.entries(FULCIO_EXTENSIONS)) {
      const value = cert.extension(oid)?.value;
      if (value !== undefined) library[name] = ASN1Obj.parseBuffer(Buffer.from(value)).value.toString('utf8');
    }
    for (const [name, oid] of Object.entries(FULCIO_LEGACY_EXTENSIONS)) {
      const value = cert.extension(oid)?.value;
      if (value !== undefined) library[name] = value.toString('utf8');
    }
    assert.deepEqual({ ...id.extensions }, library);
    if (Object.keys(library).length > 0) compared++;
  }
  assert.ok(compared > 50, `${compared} certificates with Fulcio extensions compared`);
});

test('an extension present twice: the first one counts, as the library finds it', () => {
  const bundle = readJson(ext('sigstore-rs/tests/data/bundle_v03.json')) as Json;
  const original = X509Certificate.parse(der(bundle.verificationMaterial.certificate.rawBytes));
  const root = original.root;
  // Certificate → TBSCertificate → [3] → SEQUENCE OF Extension: append a second .1.9 with another value.
  const list = root.subs[0]!.subs.find((s) => s.tag.isContextSpecific(0x03))!.subs[0]!;
  const first = list.subs.find((e) => e.subs[0]!.toOID() === FULCIO_EXTENSIONS.buildSignerURI)!;
  const utf8 = (text: string): Buffer<ArrayBuffer> =>
    Buffer.concat([Buffer.of(0x0c, text.length), Buffer.from(text)]);
  const octets = (inner: Buffer): Buffer<ArrayBuffer> =>
    Buffer.concat([Buffer.of(0x04, inner.length), inner]);
  const oid = Buffer.from(encodeDer(first.subs[0]!));
  const value = octets(utf8('second'));
  const second = ASN1Obj.parseBuffer(Buffer.concat([Buffer.of(0x30, oid.length + value.length), oid, value]));
  list.subs.push(second);
  const twice = X509Certificate.parse(Buffer.from(encodeDer(root)));
  assert.equal(
    twice.extensions.filter((e) => e.subs[0]!.toOID() === FULCIO_EXTENSIONS.buildSignerURI).length,
    2,
  );
  const id = certificateIdentity(twice);
  assert.equal(id.extensions.buildSignerURI, certificateIdentity(original).extensions.buildSignerURI);
  assert.equal(
    id.extensions.buildSignerURI,
    ASN1Obj.parseBuffer(Buffer.from(twice.extension(FULCIO_EXTENSIONS.buildSignerURI)!.value)).value.toString(
      'utf8',
    ),
  );
});

test('a Fulcio extension is read from the certificate tree exactly as reading its value alone reads it', () => {
  const bundle = readJson(ext('sigstore-rs/tests/data/bundle_v03.json')) as Json;
  const bytes = der(bundle.verificationMaterial.certificate.rawBytes);
  const oid = FULCIO_EXTENSIONS.buildSignerURI;
  const tlv = (tag: number, body: Buffer): Buffer => {
    const n = body.length;
    const length = n < 128 ? Buffer.of(n) : n < 256 ? Buffer.of(0x81, n) : Buffer.of(0x82, n >> 8, n & 0xff);
    return Buffer.concat([Buffer.of(tag), length, body]);
  };
  const utf8 = (text: string): Buffer => tlv(0x0c, Buffer.from(text));
  // extnValue replacements: [tag of the extnValue, its value]
  const variants: [number, Buffer][] = [
    [0x04, utf8('https://example.com/ok')],
    [0x04, Buffer.concat([utf8('a'), utf8('b')])], // two objects
    [0x04, Buffer.concat([utf8('a'), Buffer.of(0x00)])], // trailing byte
    [0x04, tlv(0x13, Buffer.from('printable'))], // PrintableString
    [0x04, tlv(0x30, utf8('nested'))], // a SEQUENCE holding the string
    [0x04, Buffer.alloc(0)], // empty
    [0x04, Buffer.from('https://raw.example')], // raw text, as the legacy extensions are
    [0x04, Buffer.of(0x0c, 0x81, 0x03, 0x61, 0x62, 0x63)], // non-minimal length
    [0x04, Buffer.of(0x0c, 0x05, 0x61)], // length past the end
    [0x24, utf8('constructed')], // a constructed OCTET STRING: its value is read alone
    [0x0c, Buffer.from('not an octet string')],
  ];
  const reference = (value: Buffer): string | 'refused' => {
    try {
      const obj = readDer(value);
      return obj.tag.toDER() === 0x0c ? obj.value.toString('utf8') : 'refused';
    } catch {
      return 'refused';
    }
  };
  const outcome = (cert: X509Certificate): string | undefined | 'refused' => {
    try {
      return certificateIdentity(cert).extensions.buildSignerURI;
    } catch (error) {
      assert.equal((error as { code?: string }).code, SigstoreErrorCode.bundleMalformed);
      return 'refused';
    }
  };
  const seen = new Set<string | undefined>();
  for (const [tag, value] of variants) {
    const root = X509Certificate.parse(bytes).root;
    const list = root.subs[0]!.subs.find((s) => s.tag.isContextSpecific(0x03))!.subs[0]!;
    const extension = list.subs.find((e) => e.subs[0]!.toOID() === oid)!;
    extension.subs[extension.subs.length - 1] = ASN1Obj.parseBuffer(Buffer.from(tlv(tag, value)));
    const changed = Buffer.from(encodeDer(root));
    const expected = reference(value);
    seen.add(expected);
    assert.equal(
      outcome(X509Certificate.parse(changed)),
      expected,
      `library tree, ${tlv(tag, value).toString('hex')}`,
    );
    assert.equal(
      outcome(CachedCertificate.read(changed)),
      expected,
      `readDer tree, ${tlv(tag, value).toString('hex')}`,
    );
  }
  assert.ok(seen.has('refused') && seen.has('https://example.com/ok') && seen.has('constructed'));
});
