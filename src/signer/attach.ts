// Puts a signature next to an image, in the two layouts cosign reads (shared/notes/sigstore-formats.md
// §1 and §2; names and media types from sigstore/layout.ts, the definition discovery reads too):
// - a Sigstore bundle as an OCI 1.1 referrer, byte-compatible with cosign v3: empty config, the bundle
//   as the only layer, artifactType and the dev.sigstore.bundle.* annotations, pushed by digest; the
//   fallback tag index `sha256-<hex>` only when the registry has no referrers API;
// - a legacy `sha256-<hex>.sig` manifest with one simple-signing layer per signature (appended to an
//   existing one; an identical layer is not added twice).
// Order: blobs first, the manifest last, the fallback index after the manifest exists, so a failure at
// any step leaves nothing a verifier could take for a signature. Pushing the same signature again
// changes nothing: the referrer manifest is a function of the bundle and its signing time.
import { setTimeout as delay } from 'node:timers/promises';
import {
  OCI_CONFIG,
  OCI_MANIFEST,
  digestOf,
  referenceIn,
  type Descriptor,
  type RegistryClient,
  type RepositoryName,
} from '../oci/index.ts';
import {
  BUNDLE_ANNOTATION,
  BUNDLE_ARTIFACT_TYPE,
  BUNDLE_CONTENT_DSSE,
  EMPTY_CONFIG,
  SIMPLE_SIGNING_MEDIA_TYPE,
  legacyTag,
} from '../sigstore/layout.ts';
import { SigwardError } from '../errors.ts';
import { SignerError, SignerErrorCode } from './errors.ts';

/** The image a signature is about: its repository and its manifest's descriptor. */
export interface SignedImage {
  readonly name: RepositoryName;
  readonly descriptor: Descriptor;
}

export interface AttachedReferrer {
  readonly manifestDigest: string;
  /** True when the registry lacks the referrers API and the fallback tag index lists the referrer. */
  readonly viaFallbackTag: boolean;
}

const EMPTY_CONFIG_BYTES = Buffer.from('{}', 'utf8');

function plain(descriptor: Descriptor): Descriptor {
  return { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size };
}

function bundleAnnotations(predicateType: string, created: Date): Record<string, string> {
  return {
    [BUNDLE_ANNOTATION.content]: BUNDLE_CONTENT_DSSE,
    [BUNDLE_ANNOTATION.predicateType]: predicateType,
    [BUNDLE_ANNOTATION.created]: created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

/** The referrer manifest cosign v3 writes for a bundle (its exact field set and order). */
export function bundleReferrerManifest(
  image: Descriptor,
  bundle: Descriptor,
  predicateType: string,
  created: Date,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: BUNDLE_ARTIFACT_TYPE,
      config: { ...EMPTY_CONFIG, artifactType: BUNDLE_ARTIFACT_TYPE },
      layers: [{ mediaType: BUNDLE_ARTIFACT_TYPE, digest: bundle.digest, size: bundle.size }],
      subject: plain(image),
      annotations: bundleAnnotations(predicateType, created),
    }),
    'utf8',
  );
}

export interface AttachBundleOptions {
  readonly predicateType: string;
  /** The signing time: it makes the manifest, hence its digest, the same for the same signature. */
  readonly created: Date;
  readonly signal?: AbortSignal;
}

/** Attaches bundle JSON bytes to the image as a referrer. */
export async function attachBundle(
  client: RegistryClient,
  image: SignedImage,
  bundleJson: Uint8Array,
  options: AttachBundleOptions,
): Promise<AttachedReferrer> {
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  const layer = await client.pushBlob(image.name, bundleJson, signal);
  await client.pushBlob(image.name, EMPTY_CONFIG_BYTES, signal);
  const manifest = bundleReferrerManifest(
    image.descriptor,
    { mediaType: BUNDLE_ARTIFACT_TYPE, digest: layer.digest, size: layer.size },
    options.predicateType,
    options.created,
  );
  const pushed = await client.pushReferrer(image.name, manifest, OCI_MANIFEST, options.signal);
  // fallbackTagUpdated is false both with the API and when the index already listed it: ask which.
  const viaFallbackTag =
    pushed.fallbackTagUpdated ||
    !(await referrersApiServes(client, image, pushed.descriptor.digest, options.signal));
  if (viaFallbackTag) {
    const entry: Descriptor = {
      ...pushed.descriptor,
      artifactType: BUNDLE_ARTIFACT_TYPE,
      annotations: bundleAnnotations(options.predicateType, options.created),
    };
    await keepListed(client, image, entry, options.signal);
  }
  return { manifestDigest: pushed.descriptor.digest, viaFallbackTag };
}

/**
 * The fallback index is read, edited and written back, and registries without the referrers API
 * rarely honour If-Match (docker-registry does not): two signers at once can each write an index
 * without the other's entry (google/go-containerregistry#2205, which cosign has). So the index is
 * read again after a short, jittered pause and the entry added back if a concurrent writer dropped
 * it, until two reads in a row list it. Not a lock, but it closes the race for signers that overlap.
 */
async function keepListed(
  client: RegistryClient,
  image: SignedImage,
  entry: Descriptor,
  signal?: AbortSignal,
): Promise<void> {
  let confirmations = 0;
  for (let round = 0; round < 8 && confirmations < 2; round++) {
    await delay(50 + Math.floor(Math.random() * 150), undefined, signal === undefined ? {} : { signal });
    const listed = await client.listReferrers(
      image.name,
      image.descriptor.digest,
      signal === undefined ? {} : { signal },
    );
    if (listed.descriptors.some((d) => d.digest === entry.digest)) {
      confirmations++;
      continue;
    }
    confirmations = 0;
    // A write that loses to a concurrent one (docker-registry may even answer 400 or 500 then) is
    // simply tried again next round.
    await client
      .addToReferrersTag(image.name, image.descriptor.digest, entry, signal)
      .catch((error: unknown) => {
        if (
          !(error instanceof SigwardError) ||
          error.code === 'REGISTRY_UNAUTHORIZED' ||
          error.code === 'REGISTRY_DENIED'
        )
          throw error;
      });
  }
  if (confirmations < 2) {
    throw new SigwardError(
      'REGISTRY_CONFLICT',
      `the referrers fallback tag of ${image.descriptor.digest} keeps losing the new entry to other writers`,
    );
  }
}

async function referrersApiServes(
  client: RegistryClient,
  image: SignedImage,
  manifestDigest: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const listed = await client.listReferrers(
    image.name,
    image.descriptor.digest,
    signal === undefined ? {} : { signal },
  );
  return listed.source === 'referrers-api' && listed.descriptors.some((d) => d.digest === manifestDigest);
}

export interface AttachedLegacy {
  readonly tag: string;
  readonly manifestDigest: string;
  /** False when the same layer (payload and annotations) was already there. */
  readonly added: boolean;
  /** Signature layers in the manifest now. */
  readonly layers: number;
}

interface LegacyLayer {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

function sameAnnotations(
  a: Readonly<Record<string, string>> | undefined,
  b: Readonly<Record<string, string>>,
): boolean {
  const left = a ?? {};
  const keys = Object.keys(b);
  return Object.keys(left).length === keys.length && keys.every((k) => left[k] === b[k]);
}

/** The image config cosign generates for a signature manifest: one diff ID per layer. */
function legacyConfig(layers: readonly LegacyLayer[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
    'utf8',
  );
}

/** Adds a simple-signing layer to the image's `sha256-<hex>.sig` manifest (creating it if absent). */
export async function attachLegacySignature(
  client: RegistryClient,
  image: SignedImage,
  payload: Uint8Array,
  annotations: Readonly<Record<string, string>>,
  signal?: AbortSignal,
): Promise<AttachedLegacy> {
  const opts = signal === undefined ? {} : { signal };
  const tag = legacyTag(image.descriptor.digest);
  const blob = await client.pushBlob(image.name, payload, opts);
  const current = await client.findManifest(referenceIn(image.name, tag), signal);
  let layers: LegacyLayer[] = [];
  let mediaType = OCI_MANIFEST;
  let configMediaType = OCI_CONFIG;
  if (current !== undefined) {
    if (current.manifest.kind !== 'manifest') {
      throw new SignerError(
        SignerErrorCode.input,
        `the signature tag ${tag} holds an index, not a signature manifest`,
      );
    }
    const existing = current.manifest.layers;
    if (existing.some((l) => l.digest === blob.digest && sameAnnotations(l.annotations, annotations))) {
      return { tag, manifestDigest: current.digest, added: false, layers: existing.length };
    }
    layers = existing.map((l) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      ...(l.annotations === undefined ? {} : { annotations: { ...l.annotations } }),
    }));
    mediaType = current.manifest.mediaType;
    configMediaType = current.manifest.config.mediaType;
  }
  layers.push({
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    digest: blob.digest,
    size: blob.size,
    annotations: { ...annotations },
  });
  const config = legacyConfig(layers);
  await client.pushBlob(image.name, config, opts);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: configMediaType, size: config.length, digest: digestOf(config) },
      layers,
    }),
    'utf8',
  );
  const pushed = await client.pushManifest(image.name, manifest, mediaType, {
    tag,
    ...(current?.etag === undefined ? {} : { ifMatch: current.etag }),
    ...opts,
  });
  return { tag, manifestDigest: pushed.descriptor.digest, added: true, layers: layers.length };
}
