// Real public-good cosign legacy signatures (containers/image fixtures, connaisseur registry objects)
// verify offline against the production trusted root; variants derived here are rejected for the
// right reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { legacyLayerToBundle, legacySignatureToBundle } from '../../src/sigstore/legacy.ts';
import type { LegacyLayer } from '../../src/sigstore/legacy.ts';
import { verifyBundle } from '../../src/sigstore/verify.ts';
import type { SignerTrust, VerifiedSignature } from '../../src/sigstore/verify.ts';
import { SigstoreErrorCode } from '../../src/sigstore/errors.ts';
import { ANNOTATION } from '../../src/sigstore/layout.ts';
import type { TrustRootSnapshot } from '../../src/sigstore/trusted-root.ts';
import {
  CONNAISSEUR,
  connaisseurImageDigest,
  connaisseurLayers,
  containersImageSignature,
  ext,
  prodRoot,
  publicKey,
  sha256Digest,
  stagingRoot,
} from './ext.ts';

const CI = ext('containers-image/signature/fixtures');
const keyless: SignerTrust = { kind: 'keyless' };
const key = (path: string, requireTlog = true): SignerTrust => ({
  kind: 'key',
  publicKey: publicKey(path),
  requireTlog,
});

function verifyLayer(
  layer: LegacyLayer,
  digest: string,
  signer: SignerTrust,
  opts: { repository?: string; root?: TrustRootSnapshot } = {},
): VerifiedSignature {
  const { bundle, payload } = legacyLayerToBundle(layer);
  return verifyBundle({
    bundle,
    trust: (opts.root ?? prodRoot()).material,
    signer,
    content: { kind: 'image', digest, payload, ...(opts.repository ? { repository: opts.repository } : {}) },
  });
}

function rejects(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: { code?: string; message?: string }) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (message) assert.match(e.message ?? '', message);
    return true;
  });
}

const fulcioRekor = (): LegacyLayer =>
  containersImageSignature(join(CI, 'dir-img-cosign-fulcio-rekor-valid/signature-1'));
const fulcioRekorDigest = sha256Digest(
  readFileSync(join(CI, 'dir-img-cosign-fulcio-rekor-valid/manifest.json')),
);
const withAnnotation = (layer: LegacyLayer, name: string, value: string | undefined): LegacyLayer => {
  const annotations = { ...layer.annotations };
  if (value === undefined) delete annotations[name];
  else annotations[name] = value;
  return { ...layer, annotations };
};

test('containers/image keyless Fulcio + Rekor signature verifies with the prod root', () => {
  const result = verifyLayer(fulcioRekor(), fulcioRekorDigest, keyless, {
    repository: '192.168.64.2:5000/cosign-signed/fulcio-rekor-1',
  });
  assert.equal(result.identity.kind, 'certificate');
  assert.ok(result.identity.kind === 'certificate');
  assert.equal(result.identity.subject, 'mitr@redhat.com');
  assert.equal(result.identity.subjectKind, 'email');
  assert.equal(result.identity.issuer, 'https://github.com/login/oauth');
  assert.deepEqual(result.signedAt, [new Date('2023-01-20T20:51:33Z')]);
  assert.equal(result.simpleSigning?.manifestDigest, fulcioRekorDigest);
});

test('the digest in the payload must be the admitted digest', () => {
  const other = `sha256:${'0'.repeat(64)}`;
  rejects(
    () => verifyLayer(fulcioRekor(), other, keyless),
    SigstoreErrorCode.contentMismatch,
    /expected digest sha256:0{64}, found sha256:0489/,
  );
});

test('the docker-reference must name the admitted repository', () => {
  rejects(
    () =>
      verifyLayer(fulcioRekor(), fulcioRekorDigest, keyless, { repository: 'ghcr.io/evil/fulcio-rekor-1' }),
    SigstoreErrorCode.contentMismatch,
    /expected ghcr.io\/evil\/fulcio-rekor-1, found 192.168.64.2:5000\/cosign-signed\/fulcio-rekor-1/,
  );
});

test('a tampered payload is rejected (its digest is not the one Rekor logged)', () => {
  const layer = fulcioRekor();
  const tampered = Buffer.from(layer.blob.toString().replace('fulcio-rekor-1', 'fulcio-rekor-2'));
  rejects(
    () => verifyLayer({ ...layer, blob: tampered }, fulcioRekorDigest, keyless),
    SigstoreErrorCode.tlogInvalid,
  );
});

test('a broken SET is rejected', () => {
  const layer = fulcioRekor();
  const rekor = JSON.parse(layer.annotations[ANNOTATION.rekorBundle]!) as { SignedEntryTimestamp: string };
  const set = Buffer.from(rekor.SignedEntryTimestamp, 'base64');
  set[set.length - 5]! ^= 0x01;
  rekor.SignedEntryTimestamp = set.toString('base64');
  rejects(
    () =>
      verifyLayer(
        withAnnotation(layer, ANNOTATION.rekorBundle, JSON.stringify(rekor)),
        fulcioRekorDigest,
        keyless,
      ),
    SigstoreErrorCode.tlogInvalid,
    /inclusion promise/,
  );
});

test('a SET whose integrated time was changed is rejected', () => {
  const layer = fulcioRekor();
  const rekor = JSON.parse(layer.annotations[ANNOTATION.rekorBundle]!) as {
    Payload: { integratedTime: number };
  };
  rekor.Payload.integratedTime += 60;
  rejects(
    () =>
      verifyLayer(
        withAnnotation(layer, ANNOTATION.rekorBundle, JSON.stringify(rekor)),
        fulcioRekorDigest,
        keyless,
      ),
    SigstoreErrorCode.tlogInvalid,
  );
});

test('a keyless signature without the Rekor bundle is rejected (no log entry, no trusted time)', () => {
  rejects(
    () =>
      verifyLayer(
        withAnnotation(fulcioRekor(), ANNOTATION.rekorBundle, undefined),
        fulcioRekorDigest,
        keyless,
      ),
    SigstoreErrorCode.tlogInvalid,
    /no transparency log entry/,
  );
});

test('a swapped certificate (another real Fulcio leaf) is rejected', () => {
  const other = connaisseurLayers(connaisseurImageDigest('keyless.json'))[0]!;
  const swapped = withAnnotation(
    fulcioRekor(),
    ANNOTATION.certificate,
    other.annotations[ANNOTATION.certificate],
  );
  // The 2024 leaf was not valid at the 2023 integrated time, and its key did not make the signature.
  assert.throws(
    () => verifyLayer(swapped, fulcioRekorDigest, keyless),
    (e: { code?: string }) =>
      e.code === SigstoreErrorCode.certificateUntrusted || e.code === SigstoreErrorCode.signatureInvalid,
  );
});

test('a certificate from the same time but another key fails on the signature', () => {
  // Dec-2022 leaf (containers/image fulcio-cert) on the Jan-2023 signature: the chain check at the
  // integrated time fails first or the signature does; either way it is not accepted.
  const pem = readFileSync(join(CI, 'fulcio-cert'), 'utf8');
  assert.throws(
    () => verifyLayer(withAnnotation(fulcioRekor(), ANNOTATION.certificate, pem), fulcioRekorDigest, keyless),
    (e: { code?: string }) =>
      e.code === SigstoreErrorCode.certificateUntrusted || e.code === SigstoreErrorCode.signatureInvalid,
  );
});

test('a tampered signature annotation is rejected', () => {
  const layer = fulcioRekor();
  const sig = Buffer.from(layer.annotations[ANNOTATION.signature]!, 'base64');
  sig[sig.length - 3]! ^= 0x01;
  rejects(
    () =>
      verifyLayer(
        withAnnotation(layer, ANNOTATION.signature, sig.toString('base64')),
        fulcioRekorDigest,
        keyless,
      ),
    SigstoreErrorCode.tlogInvalid, // the logged signature no longer matches, checked before the crypto
  );
});

test('a public-good signature does not verify against the staging root', () => {
  rejects(
    () => verifyLayer(fulcioRekor(), fulcioRekorDigest, keyless, { root: stagingRoot() }),
    SigstoreErrorCode.certificateUntrusted,
  );
});

test('a keyless signature is not accepted where a key is required, and vice versa', () => {
  rejects(
    () => verifyLayer(fulcioRekor(), fulcioRekorDigest, key(join(CI, 'cosign.pub'))),
    SigstoreErrorCode.keyUntrusted,
  );
  const keyed = containersImageSignature(join(CI, 'dir-img-cosign-key-rekor-valid/signature-1'));
  rejects(() => verifyLayer(keyed, fulcioRekorDigest, keyless), SigstoreErrorCode.keyUntrusted);
});

test('containers/image key + Rekor signature: passes with cosign2.pub, fails with cosign.pub', () => {
  const layer = containersImageSignature(join(CI, 'dir-img-cosign-key-rekor-valid/signature-1'));
  const digest = sha256Digest(readFileSync(join(CI, 'dir-img-cosign-key-rekor-valid/manifest.json')));
  const ok = verifyLayer(layer, digest, key(join(CI, 'cosign2.pub')));
  assert.equal(ok.identity.kind, 'key');
  assert.equal(ok.signedAt.length, 1);
  rejects(() => verifyLayer(layer, digest, key(join(CI, 'cosign.pub'))), SigstoreErrorCode.signatureInvalid);
});

test('key-only signatures need requireTlog: false (cosign --insecure-ignore-tlog)', () => {
  const digest = sha256Digest(readFileSync(join(CI, 'dir-img-cosign-valid/manifest.json')));
  for (const path of ['dir-img-cosign-valid/signature-1', 'dir-img-cosign-valid-2/signature-2']) {
    const layer = containersImageSignature(join(CI, path));
    rejects(
      () => verifyLayer(layer, digest, key(join(CI, 'cosign.pub'))),
      SigstoreErrorCode.tlogInvalid,
      /no transparency log entry/,
    );
    assert.equal(verifyLayer(layer, digest, key(join(CI, 'cosign.pub'), false)).identity.kind, 'key');
    rejects(
      () => verifyLayer(layer, digest, key(join(CI, 'cosign2.pub'), false)),
      SigstoreErrorCode.signatureInvalid,
    );
  }
});

test('containers/image payload written with a tag in docker-reference still matches its repository', () => {
  const layer = containersImageSignature(join(CI, 'dir-img-cosign-valid-with-tag/signature-1'));
  const digest = sha256Digest(readFileSync(join(CI, 'dir-img-cosign-valid-with-tag/manifest.json')));
  const result = verifyLayer(layer, digest, key(join(CI, 'cosign.pub'), false), {
    repository: '192.168.64.2:5000/skopeo-signed',
  });
  assert.equal(result.simpleSigning?.optional?.creator, 'containers/image 5.21.2-dev');
});

test('a signature by an unknown key fails with both known keys', () => {
  const layer = containersImageSignature(join(CI, 'unknown-cosign-key.signature'));
  const digest = sha256Digest(readFileSync(join(CI, 'dir-img-cosign-valid/manifest.json')));
  for (const k of ['cosign.pub', 'cosign2.pub']) {
    rejects(() => verifyLayer(layer, digest, key(join(CI, k), false)), SigstoreErrorCode.signatureInvalid);
  }
});

test('containers/image rekor-{cert,payload,sig,set} parts assemble into a verifying legacy layer', () => {
  const dir = ext('containers-image/signature/internal/testdata');
  const payload = readFileSync(join(dir, 'rekor-payload'));
  const layer: LegacyLayer = {
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    blob: payload,
    annotations: {
      [ANNOTATION.signature]: readFileSync(join(dir, 'rekor-sig'), 'utf8').trim(),
      [ANNOTATION.certificate]: readFileSync(join(dir, 'rekor-cert'), 'utf8'),
      [ANNOTATION.rekorBundle]: readFileSync(join(dir, 'rekor-set'), 'utf8'),
    },
  };
  const digest = (
    JSON.parse(payload.toString()) as { critical: { image: { 'docker-manifest-digest': string } } }
  ).critical.image['docker-manifest-digest'];
  const result = verifyLayer(layer, digest, keyless);
  assert.ok(result.identity.kind === 'certificate');
  assert.equal(result.identity.subject, 'mitr@redhat.com');
  assert.deepEqual(result.signedAt, [new Date(1670870899 * 1000)]);
});

test('connaisseur keyless signature (2024) verifies; docker-reference on Docker Hub is normalised', () => {
  const digest = connaisseurImageDigest('keyless.json');
  const [layer] = connaisseurLayers(digest);
  const result = verifyLayer(layer!, digest, keyless, { repository: 'docker.io/phbelitz/rekor-test' });
  assert.ok(result.identity.kind === 'certificate');
  assert.equal(result.identity.subject, 'philipp.belitz@securesystems.de');
  assert.equal(result.identity.issuer, 'https://github.com/login/oauth');
  assert.deepEqual(result.signedAt, [new Date('2024-05-30T15:18:17Z')]);
  // The same signature does not admit another image.
  rejects(
    () => verifyLayer(layer!, connaisseurImageDigest('multi-cosigned-alice.json'), keyless),
    SigstoreErrorCode.contentMismatch,
  );
});

test('connaisseur alice signature: alice passes, bob/charlie/default fail', () => {
  const digest = connaisseurImageDigest('multi-cosigned-alice.json');
  const [layer] = connaisseurLayers(digest);
  assert.equal(verifyLayer(layer!, digest, key(join(CONNAISSEUR, 'alice.key'), false)).identity.kind, 'key');
  for (const other of ['bob.key', 'charlie.key', 'default.key']) {
    rejects(
      () => verifyLayer(layer!, digest, key(join(CONNAISSEUR, other), false)),
      SigstoreErrorCode.signatureInvalid,
    );
  }
});

test('connaisseur alice+bob+charlie: each layer verifies with its own key only', () => {
  const digest = connaisseurImageDigest('multi-cosigned-alice-bob-charlie.json');
  const layers = connaisseurLayers(digest);
  assert.equal(layers.length, 3);
  const names = ['alice.key', 'bob.key', 'charlie.key'];
  layers.forEach((layer, i) => {
    names.forEach((name, j) => {
      const run = (): unknown => verifyLayer(layer, digest, key(join(CONNAISSEUR, name), false));
      if (i === j) assert.doesNotThrow(run);
      else rejects(run, SigstoreErrorCode.signatureInvalid);
    });
  });
});

test('malformed legacy layers are reported as malformed, never thrown raw', () => {
  const layer = fulcioRekor();
  rejects(
    () => legacySignatureToBundle(withAnnotation(layer, ANNOTATION.signature, '')),
    SigstoreErrorCode.bundleMalformed,
  );
  rejects(
    () => legacySignatureToBundle(withAnnotation(layer, ANNOTATION.signature, 'not base64!')),
    SigstoreErrorCode.bundleMalformed,
  );
  rejects(
    () => legacySignatureToBundle(withAnnotation(layer, ANNOTATION.rekorBundle, '{')),
    SigstoreErrorCode.bundleMalformed,
  );
  rejects(
    () => legacySignatureToBundle(withAnnotation(layer, ANNOTATION.rekorBundle, '{"Payload":{}}')),
    SigstoreErrorCode.bundleMalformed,
  );
  rejects(
    () => legacySignatureToBundle(withAnnotation(layer, ANNOTATION.certificate, 'junk')),
    SigstoreErrorCode.bundleMalformed,
  );
  rejects(() => legacyLayerToBundle({ ...layer, mediaType: 'text/plain' }), SigstoreErrorCode.unsupported);
});

test('the mapping: leaf only, SET entry fields, RFC 3161 kept for signatures and dropped for attestations', () => {
  const layer = fulcioRekor();
  const tsa = Buffer.from('a real token is not needed to check the mapping').toString('base64');
  const annotated = withAnnotation(
    layer,
    ANNOTATION.rfc3161Timestamp,
    JSON.stringify({ SignedRFC3161Timestamp: tsa }),
  );
  const { bundle } = legacySignatureToBundle(annotated);
  const vm = bundle.verificationMaterial;
  assert.equal(vm.content.$case, 'x509CertificateChain');
  assert.ok(vm.content.$case === 'x509CertificateChain');
  assert.equal(vm.content.x509CertificateChain.certificates.length, 1); // the chain annotation is ignored
  assert.deepEqual(
    vm.timestampVerificationData?.rfc3161Timestamps.map((t) =>
      Buffer.from(t.signedTimestamp).toString('base64'),
    ),
    [tsa],
  );
  const [entry] = vm.tlogEntries;
  const rekor = JSON.parse(layer.annotations[ANNOTATION.rekorBundle]!) as {
    Payload: { logIndex: number; logID: string };
  };
  assert.equal(entry?.logIndex, String(rekor.Payload.logIndex));
  assert.equal(Buffer.from(entry!.logId.keyId).toString('hex'), rekor.Payload.logID);
  assert.deepEqual(entry?.kindVersion, { kind: 'hashedrekord', version: '0.0.1' });
  assert.ok(bundle.content.$case === 'messageSignature');

  const envelope = {
    payloadType: 'application/vnd.in-toto+json',
    payload: Buffer.from('{}').toString('base64'),
    signatures: [{ keyid: '', sig: 'AAAA' }],
  };
  const att = legacyLayerToBundle({
    mediaType: 'application/vnd.dsse.envelope.v1+json',
    blob: Buffer.from(JSON.stringify(envelope)),
    annotations: { ...annotated.annotations, [ANNOTATION.signature]: '' },
  });
  assert.equal(att.payload, undefined);
  assert.equal(att.bundle.content.$case, 'dsseEnvelope');
  assert.deepEqual(att.bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps, []);
});

test('a key-signed legacy layer becomes a public-key bundle', () => {
  const layer = containersImageSignature(join(CI, 'dir-img-cosign-valid/signature-1'));
  const { bundle } = legacySignatureToBundle(layer);
  assert.equal(bundle.verificationMaterial.content.$case, 'publicKey');
  assert.equal(bundle.verificationMaterial.tlogEntries.length, 0);
});
