// Assertions on the layouts cosign writes into a registry (shared/notes/sigstore-formats.md §1, §2.2,
// §2.3), for any e2e test that signs: cosign's own output, and `sigward sign`'s, which must be laid out
// the same way for cosign and the webhook to find it. Only what discovery and verification rely on is
// asserted here; tests add what is particular to one signer.
import assert from 'node:assert/strict';
import { sigstoreBundleType } from './artifacts.ts';
import { getBlob, getManifest, mediaTypes, type Endpoint, type ManifestJson } from './oci-http.ts';

export const emptyConfigDigest = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
export const cosignSignPredicateType = 'https://sigstore.dev/cosign/sign/v1';
export const simpleSigningMediaType = 'application/vnd.dev.cosign.simplesigning.v1+json';

export interface BundleJson {
  mediaType: string;
  verificationMaterial: {
    certificate?: { rawBytes: string };
    publicKey?: unknown;
    x509CertificateChain?: unknown;
    tlogEntries: { kindVersion: { kind: string; version: string } }[];
    timestampVerificationData?: { rfc3161Timestamps: unknown[] };
  };
  dsseEnvelope?: { payloadType: string; payload: string; signatures: unknown[] };
  messageSignature?: unknown;
}

export interface Statement {
  _type: string;
  predicateType: string;
  subject: { name?: string; digest: { sha256: string } }[];
  predicate: unknown;
}

export interface SignedSubject {
  digest: string;
  /** The signed manifest's media type: an image manifest, or an index. */
  mediaType: string;
}

/**
 * The bundle referrer of an image signature (§2.2, §2.3): an OCI manifest with artifactType and one
 * layer of the bundle media type, the empty config, `subject` = the signed manifest, and a keyless
 * bundle holding a DSSE in-toto statement about that digest. Returns both for further checks.
 */
export async function expectBundleReferrer(
  registry: Endpoint,
  repository: string,
  referrerDigest: string,
  subject: SignedSubject,
): Promise<{ manifest: ManifestJson; bundle: BundleJson; statement: Statement }> {
  const fetched = await getManifest(registry, repository, referrerDigest);
  assert.ok(fetched, `referrer ${referrerDigest} is stored`);
  assert.equal(fetched.computedDigest, referrerDigest);
  const manifest = fetched.json;
  assert.equal(manifest.mediaType, mediaTypes.ociManifest);
  assert.equal(manifest.artifactType, sigstoreBundleType);
  assert.equal(manifest.config?.mediaType, mediaTypes.ociEmpty);
  assert.equal(manifest.config?.digest, emptyConfigDigest);
  assert.equal(manifest.config?.size, 2);
  assert.equal(manifest.layers?.length, 1, 'exactly one layer');
  assert.equal(manifest.layers?.[0]?.mediaType, sigstoreBundleType);
  assert.equal(manifest.subject?.digest, subject.digest);
  assert.equal(manifest.subject?.mediaType, subject.mediaType);
  assert.equal(manifest.annotations?.['dev.sigstore.bundle.content'], 'dsse-envelope');
  assert.equal(manifest.annotations?.['dev.sigstore.bundle.predicateType'], cosignSignPredicateType);

  const layer = manifest.layers?.[0];
  assert.ok(layer);
  const bundle = JSON.parse(
    (await getBlob(registry, repository, layer.digest)).toString('utf8'),
  ) as BundleJson;
  assert.equal(bundle.mediaType, sigstoreBundleType);
  assert.ok(bundle.dsseEnvelope, 'an image signature is a DSSE envelope');
  assert.equal(bundle.messageSignature, undefined);
  assert.equal(bundle.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
  assert.ok(bundle.verificationMaterial.certificate, 'keyless: a Fulcio certificate, not a key hint');
  const statement = JSON.parse(
    Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'),
  ) as Statement;
  assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
  assert.equal(statement.predicateType, cosignSignPredicateType);
  assert.deepEqual(
    statement.subject.map((s) => s.digest.sha256),
    [subject.digest.slice('sha256:'.length)],
  );
  return { manifest, bundle, statement };
}

export interface LegacyPayload {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: string;
  };
  optional?: Record<string, unknown> | null;
}

/**
 * The legacy signature of an image (§1): tag `sha256-<hex>.sig`, an OCI manifest whose layers are
 * simple-signing payloads, each with its signature and certificate in annotations. Returns the layers'
 * annotations and payloads.
 */
export async function expectLegacySignature(
  registry: Endpoint,
  repository: string,
  imageDigest: string,
  dockerReference: string,
): Promise<{
  manifest: ManifestJson;
  layers: { annotations: Record<string, string>; payload: LegacyPayload }[];
}> {
  const tag = `${imageDigest.replace(':', '-')}.sig`;
  const fetched = await getManifest(registry, repository, tag);
  assert.ok(fetched, `legacy signature tag ${tag} exists`);
  const manifest = fetched.json;
  assert.equal(manifest.subject, undefined, 'a legacy signature has no subject');
  assert.ok((manifest.layers?.length ?? 0) >= 1);
  const layers = [];
  for (const layer of manifest.layers ?? []) {
    assert.equal(layer.mediaType, simpleSigningMediaType);
    const annotations = layer.annotations ?? {};
    assert.ok(annotations['dev.cosignproject.cosign/signature'], 'signature annotation');
    assert.match(annotations['dev.sigstore.cosign/certificate'] ?? '', /^-----BEGIN CERTIFICATE-----/);
    const payload = JSON.parse(
      (await getBlob(registry, repository, layer.digest)).toString('utf8'),
    ) as LegacyPayload;
    assert.equal(payload.critical.type, 'cosign container image signature');
    assert.equal(payload.critical.image['docker-manifest-digest'], imageDigest);
    assert.equal(payload.critical.identity['docker-reference'], dockerReference);
    layers.push({ annotations, payload });
  }
  return { manifest, layers };
}
