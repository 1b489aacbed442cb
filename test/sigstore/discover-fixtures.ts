// Signatures placed in a real registry the way cosign places them, pushed with sigward's own client:
// legacy `.sig` manifests from real public-good layers (containers/image, connaisseur), bundle referrers
// from the real cosign v3 bundle (sigstore-rs), with or without the fallback tag. For images made in a
// test (multi-arch cases), a key generated here signs a simple-signing payload (generated, not edited).
import { generateKeyPairSync, sign as signBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistryClient } from '../../src/oci/client.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import { OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import type { LegacyLayer } from '../../src/sigstore/legacy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import {
  ANNOTATION,
  BUNDLE_ARTIFACT_TYPE,
  BUNDLE_ANNOTATION,
  BUNDLE_CONTENT_DSSE,
  COSIGN_SIGN_PREDICATE_TYPE,
  EMPTY_CONFIG,
  legacyTag,
  referrersFallbackTag,
  SIMPLE_SIGNING_MEDIA_TYPE,
  SIMPLE_SIGNING_TYPE,
} from '../../src/sigstore/layout.ts';
import {
  CONNAISSEUR,
  connaisseurImageDigest,
  connaisseurLayers,
  containersImageSignature,
  ext,
  sha256Digest,
} from './ext.ts';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

// --- the real vectors -------------------------------------------------------------------------------

const CI = ext('containers-image/signature/fixtures');

/** containers/image keyless Fulcio + Rekor signature (mitr@redhat.com, GitHub OAuth). */
export const fulcioRekor = {
  digest: sha256Digest(readFileSync(join(CI, 'dir-img-cosign-fulcio-rekor-valid/manifest.json'))),
  layer: (): LegacyLayer =>
    containersImageSignature(join(CI, 'dir-img-cosign-fulcio-rekor-valid/signature-1')),
  subject: 'mitr@redhat.com',
  issuer: 'https://github.com/login/oauth',
};

/** connaisseur: three key-only layers (alice, bob, charlie) over one payload. */
export const multiCosigned = {
  digest: connaisseurImageDigest('multi-cosigned-alice-bob-charlie.json'),
  layers: (): LegacyLayer[] =>
    connaisseurLayers(connaisseurImageDigest('multi-cosigned-alice-bob-charlie.json')),
  key: (who: 'alice' | 'bob' | 'charlie' | 'default'): string => join(CONNAISSEUR, `${who}.key`),
};

/** sigstore-rs: the bundle cosign v3 made signing ghcr.io/kubewarden/kubewarden-controller:v1.34.0. */
export const kubewarden = {
  digest: 'sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172',
  bundle: (): Buffer => readFileSync(ext('sigstore-rs/tests/data/bundle_v03.json')),
  subject:
    'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0',
  issuer: 'https://token.actions.githubusercontent.com',
};

/** cosign: a real public-good `cosign attest` bundle (predicate https://cosign.sigstore.dev/attestation/v1). */
export const cosignAttestation = {
  digest: 'sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4',
  bundle: (): Buffer => readFileSync(ext('cosign/pkg/cosign/testdata/oci-attestation.sigstore.json')),
  predicateType: 'https://cosign.sigstore.dev/attestation/v1',
};

// --- placing signatures -----------------------------------------------------------------------------

/** Pushes a cosign legacy signature manifest at `sha256-<hex>.sig` with these layers. */
export async function pushLegacySignature(
  client: RegistryClient,
  repo: RepositoryName,
  imageDigest: string,
  layers: readonly LegacyLayer[],
): Promise<string> {
  const descriptors: Descriptor[] = [];
  for (const layer of layers) {
    const pushed = await client.pushBlob(repo, layer.blob);
    descriptors.push({
      mediaType: layer.mediaType,
      digest: pushed.digest,
      size: pushed.size,
      annotations: layer.annotations,
    });
  }
  const config = json({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [] } });
  const pushedConfig = await client.pushBlob(repo, config);
  const manifest = json({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: pushedConfig.digest, size: pushedConfig.size },
    layers: descriptors,
  });
  const pushed = await client.pushManifest(repo, manifest, OCI_MANIFEST, { tag: legacyTag(imageDigest) });
  return pushed.descriptor.digest;
}

export interface ReferrerOptions {
  /** Layers of the referrer; default one bundle layer holding `bundle`. */
  readonly layers?: readonly { mediaType: string; bytes: Uint8Array }[];
  /** What the fallback index entry claims (cosign lifts artifactType, not the annotations). */
  readonly entryArtifactType?: string | null;
  /** Add the referrer to the fallback tag. Default true. */
  readonly fallbackTag?: boolean;
  /** The manifest's `dev.sigstore.bundle.predicateType` annotation; null leaves it out. */
  readonly predicateType?: string | null;
}

/** Pushes a bundle referrer of `subject` by digest (cosign's §2.2 shape); returns its descriptor. */
export async function pushBundleReferrer(
  client: RegistryClient,
  repo: RepositoryName,
  subject: string,
  bundle: Uint8Array,
  options: ReferrerOptions = {},
): Promise<Descriptor> {
  await client.pushBlob(repo, Buffer.from('{}'));
  const layers: Descriptor[] = [];
  for (const layer of options.layers ?? [{ mediaType: BUNDLE_ARTIFACT_TYPE, bytes: bundle }]) {
    const pushed = await client.pushBlob(repo, layer.bytes);
    layers.push({ mediaType: layer.mediaType, digest: pushed.digest, size: pushed.size });
  }
  const manifest = json({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: BUNDLE_ARTIFACT_TYPE,
    config: { ...EMPTY_CONFIG },
    layers,
    subject: { mediaType: OCI_MANIFEST, digest: subject, size: 1000 },
    annotations: {
      [BUNDLE_ANNOTATION.content]: BUNDLE_CONTENT_DSSE,
      ...(options.predicateType === null
        ? {}
        : { [BUNDLE_ANNOTATION.predicateType]: options.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE }),
    },
  });
  const pushed = await client.pushManifest(repo, manifest, OCI_MANIFEST);
  const entryType =
    options.entryArtifactType === undefined ? BUNDLE_ARTIFACT_TYPE : options.entryArtifactType;
  const entry: Descriptor = {
    ...pushed.descriptor,
    ...(entryType === null ? {} : { artifactType: entryType }),
  };
  if (options.fallbackTag !== false) await client.addToReferrersTag(repo, subject, entry);
  return entry;
}

/** The referrers API answer (an index) a registry with the API would give for these referrers. */
export function referrersIndex(entries: readonly Descriptor[]): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries });
}

/**
 * Makes the fault proxy play the referrers API (which docker-registry lacks): every `/referrers/`
 * request is answered 200 with an index of `entries`, saying it applied the artifactType filter
 * when `filtersApplied` is set.
 */
export function playReferrersApi(
  proxy: FaultProxy,
  entries: readonly Descriptor[],
  { filtersApplied = false }: { filtersApplied?: boolean } = {},
): void {
  proxy.addFault({
    path: /\/referrers\//,
    fault: {
      kind: 'status',
      status: 200,
      headers: {
        'content-type': 'application/vnd.oci.image.index.v1+json',
        ...(filtersApplied ? { 'oci-filters-applied': 'artifactType' } : {}),
      },
      body: referrersIndex(entries),
    },
  });
}

export { OCI_EMPTY, referrersFallbackTag };

// --- a key made here, for images made here ----------------------------------------------------------

export interface TestSigner {
  readonly publicKey: KeyObject;
  /** A legacy simple-signing layer signing `digest` (key only, no tlog). */
  layerFor(digest: string, dockerReference: string): LegacyLayer;
}

export function testSigner(): TestSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKey,
    layerFor(digest, dockerReference) {
      const blob = json({
        critical: {
          identity: { 'docker-reference': dockerReference },
          image: { 'docker-manifest-digest': digest },
          type: SIMPLE_SIGNING_TYPE,
        },
        optional: null,
      });
      const signature = signBytes('sha256', blob, privateKey).toString('base64');
      return {
        mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
        annotations: { [ANNOTATION.signature]: signature },
        blob,
      };
    },
  };
}
