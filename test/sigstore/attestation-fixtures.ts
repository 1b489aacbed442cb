// In-toto attestations made here with a key made here (generated, never hand-edited crypto), placed the
// two ways cosign places them: a DSSE layer of the legacy `sha256-<hex>.att` manifest (cosign v2, or v3
// with --new-bundle-format=false) and a Sigstore bundle referrer (cosign v3). Key-only, no log: the
// authority that accepts them sets insecureIgnoreTlog. Keyless paths use the real public-good bundles.
import { generateKeyPairSync, sign as signBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { RegistryClient } from '../../src/oci/client.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import { OCI_CONFIG, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import {
  ANNOTATION,
  BUNDLE_ARTIFACT_TYPE,
  DSSE_ENVELOPE_MEDIA_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  legacyTag,
} from '../../src/sigstore/layout.ts';
import { pushBundleReferrer } from './discover-fixtures.ts';

export const SLSA_V1 = 'https://slsa.dev/provenance/v1';

/** The CEL condition that holds for `slsaProvenance('refs/heads/main')`. */
export const MAIN_REF_CONDITION =
  'predicate.buildDefinition.externalParameters.workflow.ref == "refs/heads/main"';

/** A SLSA v1 provenance predicate as GitHub's builder writes it, for `ref`. */
export function slsaProvenance(ref: string, finishedOn = '2026-12-01T10:00:00Z'): Record<string, unknown> {
  return {
    buildDefinition: {
      buildType: 'https://actions.github.io/buildtypes/workflow/v1',
      externalParameters: {
        workflow: { ref, repository: 'https://github.com/acme/app', path: '.github/workflows/release.yml' },
      },
    },
    runDetails: {
      builder: { id: 'https://github.com/actions/runner/github-hosted' },
      metadata: { invocationId: 'https://github.com/acme/app/actions/runs/1/attempts/1', finishedOn },
    },
  };
}

export function statement(digest: string, predicateType: string, predicate: unknown): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'app', digest: { sha256: digest.replace(/^sha256:/, '') } }],
      predicateType,
      predicate,
    }),
  );
}

/** An in-toto statement of SLSA v1 provenance about `digest`, built from `ref`. */
export function provenanceStatement(digest: string, ref: string): Buffer {
  return statement(digest, SLSA_V1, slsaProvenance(ref));
}

/** DSSE pre-authentication encoding (the bytes the signature is over). */
function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType);
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${payload.length} `),
    payload,
  ]);
}

export interface AttestationSigner {
  readonly publicKey: KeyObject;
  readonly pem: string;
  /** A DSSE envelope over `payload` (JSON bytes) with payloadType `type`. */
  envelope(
    payload: Buffer,
    type?: string,
  ): { payload: string; payloadType: string; signatures: { sig: string; keyid: string }[] };
  /** The same envelope as a bundle v0.3 (key, no log). */
  bundle(payload: Buffer, type?: string): Buffer;
}

export function attestationSigner(): AttestationSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const envelope = (payload: Buffer, type = IN_TOTO_PAYLOAD_TYPE) => ({
    payload: payload.toString('base64'),
    payloadType: type,
    signatures: [{ sig: signBytes('sha256', pae(type, payload), privateKey).toString('base64'), keyid: '' }],
  });
  return {
    publicKey,
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    envelope,
    bundle: (payload, type) =>
      Buffer.from(
        JSON.stringify({
          mediaType: BUNDLE_ARTIFACT_TYPE,
          verificationMaterial: {
            publicKey: { hint: '' },
            tlogEntries: [],
            timestampVerificationData: { rfc3161Timestamps: [] },
          },
          dsseEnvelope: envelope(payload, type),
        }),
      ),
  };
}

/** A legacy .att layer: `signer`'s DSSE envelope over `payload`, annotated with `predicateType`. */
export function envelopeLayer(
  signer: AttestationSigner,
  payload: Buffer,
  predicateType = SLSA_V1,
): { blob: Buffer; predicateType: string } {
  return { blob: Buffer.from(JSON.stringify(signer.envelope(payload))), predicateType };
}

/** Pushes cosign's legacy attestation manifest at `sha256-<hex>.att`, one DSSE layer per blob. */
export async function pushLegacyAttestations(
  client: RegistryClient,
  repo: RepositoryName,
  imageDigest: string,
  layers: readonly { blob: Uint8Array; predicateType: string }[],
): Promise<void> {
  const descriptors: Descriptor[] = [];
  for (const layer of layers) {
    const pushed = await client.pushBlob(repo, layer.blob);
    descriptors.push({
      mediaType: DSSE_ENVELOPE_MEDIA_TYPE,
      digest: pushed.digest,
      size: pushed.size,
      annotations: { [ANNOTATION.signature]: '', [ANNOTATION.predicateType]: layer.predicateType },
    });
  }
  const config = await client.pushBlob(
    repo,
    Buffer.from(
      JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [] } }),
    ),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: descriptors,
    }),
  );
  await client.pushManifest(repo, manifest, OCI_MANIFEST, { tag: legacyTag(imageDigest, 'attestation') });
}

/** Pushes an attestation bundle as a referrer of `imageDigest` (listed in the fallback tag). */
export function pushAttestationReferrer(
  client: RegistryClient,
  repo: RepositoryName,
  imageDigest: string,
  bundle: Uint8Array,
  predicateType: string,
): Promise<Descriptor> {
  return pushBundleReferrer(client, repo, imageDigest, bundle, { predicateType });
}

/** Pushes `signer`'s SLSA v1 provenance of `imageDigest` built from `ref` as a bundle referrer. */
export function pushProvenanceReferrer(
  client: RegistryClient,
  repo: RepositoryName,
  imageDigest: string,
  signer: AttestationSigner,
  ref: string,
): Promise<Descriptor> {
  return pushAttestationReferrer(
    client,
    repo,
    imageDigest,
    signer.bundle(provenanceStatement(imageDigest, ref)),
    SLSA_V1,
  );
}
