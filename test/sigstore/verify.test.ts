// Real public-good bundles (sigstore-rs cosign v3 image signature, cosign OCI attestation, sigstore-js
// and sigstore-go bundles) verified offline, and variants derived here rejected with the right code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseBundle } from '../../src/sigstore/bundle.ts';
import { legacyAttestationToBundle } from '../../src/sigstore/legacy.ts';
import { ANNOTATION, COSIGN_SIGN_PREDICATE_TYPE } from '../../src/sigstore/layout.ts';
import { SigstoreErrorCode } from '../../src/sigstore/errors.ts';
import { fromLibraryError, verifyBundle } from '../../src/sigstore/verify.ts';
import type { SignedContent, SignerTrust, VerifiedSignature } from '../../src/sigstore/verify.ts';
import { loadTrustRoot } from '../../src/sigstore/trusted-root.ts';
import type { TrustRootSnapshot } from '../../src/sigstore/trusted-root.ts';
import { ext, prodRoot, publicKey, readJson } from './ext.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const load = (path: string): Json => readJson(path) as Json;

const RS_BUNDLE = ext('sigstore-rs/tests/data/bundle_v03.json');
const RS_DIGEST = 'sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172';
const OCI_ATT = ext('cosign/pkg/cosign/testdata/oci-attestation.sigstore.json');
const OCI_ATT_DIGEST = 'sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4';
const keyless: SignerTrust = { kind: 'keyless' };

function run(
  json: Json,
  content: SignedContent,
  opts: { root?: TrustRootSnapshot; signer?: SignerTrust } = {},
): VerifiedSignature {
  return verifyBundle({
    bundle: parseBundle(json),
    trust: (opts.root ?? prodRoot()).material,
    signer: opts.signer ?? keyless,
    content,
  });
}

function rejects(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: { code?: string; message?: string }) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (message) assert.match(e.message ?? '', message);
    return true;
  });
}

const rs = (): Json => load(RS_BUNDLE);
const image = (digest = RS_DIGEST, predicateType?: string): SignedContent => ({
  kind: 'image',
  digest,
  ...(predicateType ? { predicateType } : {}),
});
const b64json = (s: string): Json => JSON.parse(Buffer.from(s, 'base64').toString('utf8')) as Json;
const tob64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');

test('cosign v3 image signature (sigstore-rs bundle v0.3, DSSE, Rekor + TSA) verifies with the prod root', () => {
  const result = run(rs(), image());
  assert.equal(result.contentKind, 'dsse');
  assert.ok(result.identity.kind === 'certificate');
  assert.equal(
    result.identity.subject,
    'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0',
  );
  assert.equal(result.identity.issuer, 'https://token.actions.githubusercontent.com');
  assert.equal(
    result.identity.extensions.sourceRepositoryURI,
    'https://github.com/kubewarden/kubewarden-controller',
  );
  assert.equal(result.identity.extensions.githubWorkflowRef, 'refs/tags/v1.34.0');
  assert.equal(result.statement?.predicateType, COSIGN_SIGN_PREDICATE_TYPE);
  assert.equal(result.signedAt.length, 2); // Rekor integrated time + RFC 3161 time
});

test('the cosign bundle does not admit another digest', () => {
  rejects(
    () => run(rs(), image(`sha256:${'1'.repeat(64)}`)),
    SigstoreErrorCode.contentMismatch,
    /expected subject sha256:1{64}, found sha256:c811/,
  );
});

test('the cosign bundle is not an attestation of another predicate type', () => {
  rejects(
    () => run(rs(), image(RS_DIGEST, 'https://slsa.dev/provenance/v1')),
    SigstoreErrorCode.contentMismatch,
    /predicate type/,
  );
});

test('a tampered in-toto payload (other subject) is rejected by the log and the signature', () => {
  const json = rs();
  const statement = b64json(json.dsseEnvelope.payload);
  statement.subject[0].digest.sha256 = '1'.repeat(64);
  json.dsseEnvelope.payload = tob64(statement);
  rejects(() => run(json, image(`sha256:${'1'.repeat(64)}`)), SigstoreErrorCode.tlogInvalid);
});

test('a changed payloadType is rejected (it is signed through the DSSE PAE)', () => {
  const json = rs();
  json.dsseEnvelope.payloadType = 'application/json';
  assert.throws(
    () => run(json, image()),
    (e: { code?: string }) =>
      [SigstoreErrorCode.tlogInvalid, SigstoreErrorCode.signatureInvalid].includes(e.code as never),
  );
});

test('a swapped certificate (another real Fulcio leaf) is rejected', () => {
  const json = rs();
  json.verificationMaterial.certificate = load(OCI_ATT).verificationMaterial.certificate;
  assert.throws(
    () => run(json, image()),
    (e: { code?: string }) =>
      [SigstoreErrorCode.certificateUntrusted, SigstoreErrorCode.signatureInvalid].includes(e.code as never),
  );
});

test('a broken SET is rejected', () => {
  const json = rs();
  const entry = json.verificationMaterial.tlogEntries[0];
  const set = Buffer.from(entry.inclusionPromise.signedEntryTimestamp, 'base64');
  set[10]! ^= 0x01;
  entry.inclusionPromise.signedEntryTimestamp = set.toString('base64');
  rejects(() => run(json, image()), SigstoreErrorCode.tlogInvalid, /inclusion promise/);
});

test('a broken inclusion proof is rejected', () => {
  const json = rs();
  const proof = json.verificationMaterial.tlogEntries[0].inclusionProof;
  const hash = Buffer.from(proof.hashes[0], 'base64');
  hash[0]! ^= 0x01;
  proof.hashes[0] = hash.toString('base64');
  rejects(() => run(json, image()), SigstoreErrorCode.tlogInvalid);
});

test('a tampered RFC 3161 timestamp is rejected', () => {
  const json = rs();
  const ts = json.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0];
  const bytes = Buffer.from(ts.signedTimestamp, 'base64');
  bytes[bytes.length - 10]! ^= 0x01;
  ts.signedTimestamp = bytes.toString('base64');
  assert.throws(
    () => run(json, image()),
    (e: { code?: string }) =>
      [SigstoreErrorCode.timestampInvalid, SigstoreErrorCode.bundleMalformed].includes(e.code as never),
  );
});

test('a root without the TSA that stamped the bundle fails on the timestamp (sigstore-rs own root)', () => {
  const root = loadTrustRoot(readFileSync(ext('sigstore-rs/trust_root/prod/trusted_root.json')), 'rs');
  rejects(() => run(rs(), image(), { root }), SigstoreErrorCode.timestampInvalid);
});

test('cosign OCI attestation verifies with both public-good roots and checks subject + predicate', () => {
  const pgi = loadTrustRoot(readFileSync(ext('cosign/pkg/cosign/testdata/trusted_root_pgi.json')), 'pgi');
  for (const root of [prodRoot(), pgi]) {
    const result = run(load(OCI_ATT), image(OCI_ATT_DIGEST, 'https://cosign.sigstore.dev/attestation/v1'), {
      root,
    });
    assert.ok(result.identity.kind === 'certificate');
    assert.equal(result.identity.subject, 'cody@soyland.com');
  }
  // As an image signature (default predicate type) it is not enough: it is an attestation.
  rejects(
    () => run(load(OCI_ATT), image(OCI_ATT_DIGEST)),
    SigstoreErrorCode.contentMismatch,
    /predicate type/,
  );
  rejects(
    () => run(load(OCI_ATT), image(RS_DIGEST, 'https://cosign.sigstore.dev/attestation/v1')),
    SigstoreErrorCode.contentMismatch,
  );
});

test('all nine sigstore-js bundles verify (v0.1–v0.3, dsse and intoto entries)', () => {
  const statement = load(ext('sigstore-js/tests/bundles/statement.json'));
  const digest = `sha512:${(statement.subject as Json[])[0]!.digest.sha512}`;
  for (const name of [
    'bundleV01-dsse-no-proof',
    'bundleV01-dsse-with-proof',
    'bundleV01-full-cert-chain',
    'bundleV01-intoto-no-proof',
    'bundleV01-intoto-with-proof',
    'bundleV02-dsse',
    'bundleV02-intoto',
    'bundleV03-dsse',
    'bundleV03-intoto',
  ]) {
    const json = load(ext(`sigstore-js/tests/bundles/${name}.sigstore`));
    if (name === 'bundleV01-full-cert-chain') {
      // It ships the Fulcio root too, which sigward refuses (trust comes from the trusted root only).
      rejects(
        () => run(json, { kind: 'artifact', digest }),
        SigstoreErrorCode.bundleMalformed,
        /root certificate/,
      );
      continue;
    }
    const result = run(json, { kind: 'artifact', digest }, {});
    assert.ok(result.identity.kind === 'certificate', name);
    assert.equal(result.identity.subject, 'brian@dehamer.com', name);
  }
});

test('sigstore-go bundles: provenance passes, two DSSE signatures and a key outside its validity fail', () => {
  const publicGood = loadTrustRoot(
    readFileSync(ext('sigstore-go/pkg/testing/data/trusted-roots/public-good.json')),
    'go',
  );
  const prov = load(ext('sigstore-go/pkg/testing/data/bundles/sigstore.js@2.0.0-provenance.sigstore.json'));
  const provDigest = `sha512:${b64json(prov.dsseEnvelope.payload).subject[0].digest.sha512}`;
  const ok = run(
    prov,
    { kind: 'artifact', digest: provDigest, predicateType: 'https://slsa.dev/provenance/v1' },
    { root: publicGood },
  );
  assert.ok(ok.identity.kind === 'certificate');
  assert.equal(
    ok.identity.subject,
    'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main',
  );

  rejects(
    () => parseBundle(load(ext('sigstore-go/pkg/testing/data/bundles/dsse-2sigs.sigstore.json'))),
    SigstoreErrorCode.bundleMalformed,
    /signatures/,
  );

  const validity = loadTrustRoot(
    readFileSync(ext('sigstore-go/pkg/testing/data/trusted-roots/public-key-validity.json')),
    'v',
  );
  const content = Buffer.from('test content');
  const bundle = load(ext('sigstore-go/pkg/testing/data/bundles/public-key-validity.sigstore.json'));
  const pk = publicKey(ext('sigstore-go/pkg/testing/data/public-keys/public-key-validity.pem'));
  // The key is trusted for [0, 1] s only (as sigstore-go's test sets it); the signature was
  // timestamped later, so the key is rejected for that time. Without the window it verifies.
  const artifact: SignedContent = {
    kind: 'artifact',
    digest: `sha256:${createHashHex(content)}`,
    bytes: content,
  };
  const window = { start: new Date(0), end: new Date(1000) };
  rejects(
    () =>
      run(bundle, artifact, {
        root: validity,
        signer: { kind: 'key', publicKey: pk, requireTlog: false, validFor: window },
      }),
    SigstoreErrorCode.keyUntrusted,
  );
  assert.equal(
    run(bundle, artifact, { root: validity, signer: { kind: 'key', publicKey: pk, requireTlog: false } })
      .identity.kind,
    'key',
  );
});

test('sigstore-go key-signed npm publish attestation verifies with its key', () => {
  const bundle = load(ext('sigstore-go/examples/bundle-publish.json'));
  const digest = `sha512:${b64json(bundle.dsseEnvelope.payload).subject[0].digest.sha512}`;
  const result = run(
    bundle,
    { kind: 'artifact', digest },
    { signer: { kind: 'key', publicKey: publicKey(ext('sigstore-go/examples/publish_key.pub')) } },
  );
  assert.equal(result.identity.kind, 'key');
  rejects(
    () =>
      run(
        bundle,
        { kind: 'artifact', digest },
        {
          signer: {
            kind: 'key',
            publicKey: publicKey(ext('containers-image/signature/fixtures/cosign.pub')),
          },
        },
      ),
    SigstoreErrorCode.signatureInvalid,
  );
});

test('a real DSSE bundle rewritten as a legacy .att layer verifies through legacy.ts', () => {
  // bundleV01-dsse-no-proof carries what a cosign .att layer has: envelope, leaf, Rekor SET.
  const json = load(ext('sigstore-js/tests/bundles/bundleV01-dsse-no-proof.sigstore'));
  const entry = json.verificationMaterial.tlogEntries[0];
  const leaf = json.verificationMaterial.x509CertificateChain.certificates[0].rawBytes as string;
  const pem = `-----BEGIN CERTIFICATE-----\n${leaf.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  const rekor = {
    SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp,
    Payload: {
      body: entry.canonicalizedBody,
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex),
      logID: Buffer.from(entry.logId.keyId, 'base64').toString('hex'),
    },
  };
  const layer = {
    mediaType: 'application/vnd.dsse.envelope.v1+json',
    blob: Buffer.from(JSON.stringify(json.dsseEnvelope)),
    annotations: {
      [ANNOTATION.signature]: '',
      [ANNOTATION.certificate]: pem,
      [ANNOTATION.rekorBundle]: JSON.stringify(rekor),
      [ANNOTATION.predicateType]: 'https://github.com/npm/attestation/tree/main/specs/publish/v0.1',
    },
  };
  const statement = b64json(json.dsseEnvelope.payload);
  const digest = `sha512:${statement.subject[0].digest.sha512}`;
  const { bundle } = legacyAttestationToBundle(layer);
  const result = verifyBundle({
    bundle,
    trust: prodRoot().material,
    signer: keyless,
    content: {
      kind: 'artifact',
      digest,
      predicateType: 'https://github.com/npm/attestation/tree/main/specs/publish/v0.1',
    },
  });
  assert.ok(result.identity.kind === 'certificate');
  assert.equal(result.identity.subject, 'brian@dehamer.com');
});

test('message signatures: digest-only verification works and checks the digest', () => {
  const dir = ext('sigstore-conformance/bundle-verify');
  const artifact = readFileSync(`${dir}/a.txt`);
  const digest = `sha256:${createHashHex(artifact)}`;
  const json = load(`${dir}/happy-path-v0.3/bundle.sigstore.json`);
  assert.equal(run(json, { kind: 'artifact', digest }).contentKind, 'message-signature');
  assert.equal(run(json, { kind: 'artifact', digest, bytes: artifact }).contentKind, 'message-signature');
  rejects(
    () => run(json, { kind: 'artifact', digest: `sha256:${'2'.repeat(64)}` }),
    SigstoreErrorCode.contentMismatch,
    /signs another artifact/,
  );
  rejects(
    () => run(json, { kind: 'artifact', digest, bytes: Buffer.from('other') }),
    SigstoreErrorCode.contentMismatch,
  );
  rejects(() => run(json, image(digest)), SigstoreErrorCode.contentMismatch, /simple-signing payload/);
});

test('exceptions of any type from the library become codes; nothing escapes raw', () => {
  assert.equal(fromLibraryError(new TypeError('x')).code, SigstoreErrorCode.verificationFailed);
  assert.equal(fromLibraryError('weird').code, SigstoreErrorCode.verificationFailed);
  const json = rs();
  delete json.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint;
  assert.throws(
    () => run(json, image()),
    (e: { code?: string }) => typeof e.code === 'string' && e.code.startsWith('SIGSTORE_'),
  );
});

function createHashHex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function rootWithout(mutate: (j: Json) => void): TrustRootSnapshot {
  const j = load(ext('sigstore-python/sigstore/_store/tuf-repo-cdn.sigstore.dev/trusted_root.json'));
  mutate(j);
  return loadTrustRoot(Buffer.from(JSON.stringify(j)), 'mutated');
}

test('each authority of the trusted root is needed: CT log (SCT), Rekor (SET), Fulcio CA (chain)', () => {
  rejects(
    () => run(rs(), image(), { root: rootWithout((j) => (j.ctlogs = [])) }),
    SigstoreErrorCode.certificateUntrusted,
    /SCT/,
  );
  rejects(
    () => run(rs(), image(), { root: rootWithout((j) => (j.tlogs = [])) }),
    SigstoreErrorCode.tlogInvalid,
  );
  rejects(
    () => run(rs(), image(), { root: rootWithout((j) => (j.certificateAuthorities = [])) }),
    SigstoreErrorCode.certificateUntrusted,
    /certificate chain/,
  );
  // A Fulcio CA whose validity starts after the signing time does not vouch for it.
  rejects(
    () =>
      run(rs(), image(), {
        root: rootWithout((j) => {
          for (const ca of j.certificateAuthorities) ca.validFor.start = '2026-10-01T00:00:00Z';
        }),
      }),
    SigstoreErrorCode.certificateUntrusted,
  );
});
