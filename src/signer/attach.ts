// Puts a Sigstore bundle next to an image as an OCI 1.1 referrer, byte-compatible with cosign v3
// (shared/notes/sigstore-formats.md §2; names and media types from sigstore/layout.ts, the definition
// discovery reads too): empty config, the bundle as the only layer, artifactType and the
// dev.sigstore.bundle.* annotations, pushed by digest; listed in the fallback tag index `sha256-<hex>`
// only when the registry has no referrers API. (The legacy `.sig` layout is attach-legacy.ts.)
// Order: blobs first, the manifest last, the fallback index after the manifest exists, so a failure at
// any step leaves nothing a verifier could take for a signature. Pushing the same signature again
// changes nothing: the referrer manifest is a function of the bundle and its signing time.
import { OCI_MANIFEST, type Descriptor, type RegistryClient, type RepositoryName } from '../oci/index.ts';
import {
  BUNDLE_ANNOTATION,
  BUNDLE_ARTIFACT_TYPE,
  BUNDLE_CONTENT_DSSE,
  EMPTY_CONFIG,
} from '../sigstore/layout.ts';
import { settle } from './settle.ts';

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
    const subject = image.descriptor.digest;
    const signal = options.signal === undefined ? {} : { signal: options.signal };
    await settle({
      present: async () =>
        (await client.listReferrers(image.name, subject, signal)).descriptors.some(
          (d) => d.digest === entry.digest,
        ),
      repair: async () => void (await client.addToReferrersTag(image.name, subject, entry, options.signal)),
      what: `the referrers fallback tag of ${subject}`,
      ...signal,
    });
  }
  return { manifestDigest: pushed.descriptor.digest, viaFallbackTag };
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
