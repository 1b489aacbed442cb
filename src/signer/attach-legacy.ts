// A legacy cosign signature next to an image: the `sha256-<hex>.sig` manifest, one simple-signing
// layer per signature (shared/notes/sigstore-formats.md §1; names from sigstore/layout.ts). A new
// signature is appended to the existing manifest; an identical layer is not added twice. The payload
// and config blobs go first, the manifest last; the tag is read back so a concurrent signer cannot
// silently drop the new layer (settle.ts).
import { OCI_CONFIG, OCI_MANIFEST, digestOf, referenceIn, type RegistryClient } from '../oci/index.ts';
import { SIMPLE_SIGNING_MEDIA_TYPE, legacyTag } from '../sigstore/layout.ts';
import type { SignedImage } from './attach.ts';
import { SignerError, SignerErrorCode } from './errors.ts';
import { settle } from './settle.ts';

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

async function appendLayer(
  client: RegistryClient,
  image: SignedImage,
  payload: Uint8Array,
  annotations: Readonly<Record<string, string>>,
  signal?: AbortSignal,
  attemptsLeft = 4,
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
  // docker-registry has no If-Match: a manifest another signer wrote while the config was uploading
  // would be overwritten without its layer. Start again from it (bounded), so only the last round trip
  // before the write is open to a lost update; settle() repairs what still slips through.
  if (attemptsLeft > 0) {
    const now = await client.findManifest(referenceIn(image.name, tag), signal);
    if (now?.digest !== current?.digest) {
      return appendLayer(client, image, payload, annotations, signal, attemptsLeft - 1);
    }
  }
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

/** Adds a simple-signing layer to the image's `sha256-<hex>.sig` manifest (creating it if absent). */
export async function attachLegacySignature(
  client: RegistryClient,
  image: SignedImage,
  payload: Uint8Array,
  annotations: Readonly<Record<string, string>>,
  signal?: AbortSignal,
): Promise<AttachedLegacy> {
  const first = await appendLayer(client, image, payload, annotations, signal);
  if (!first.added) return first;
  const digest = digestOf(payload);
  let latest = first;
  await settle({
    present: async () => {
      const found = await client.findManifest(referenceIn(image.name, first.tag), signal);
      if (found === undefined || found.manifest.kind !== 'manifest') return false;
      latest = { ...first, manifestDigest: found.digest, layers: found.manifest.layers.length };
      return found.manifest.layers.some(
        (l) => l.digest === digest && sameAnnotations(l.annotations, annotations),
      );
    },
    repair: async () => void (await appendLayer(client, image, payload, annotations, signal)),
    what: `the signature tag ${first.tag}`,
    ...(signal === undefined ? {} : { signal }),
  });
  return latest;
}
