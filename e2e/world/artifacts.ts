// OCI 1.1 artifacts that refer to an image (`subject`), pushed two ways:
// - by plain HTTP(S) requests, bytes exactly as built, so a test sees what the registry alone does with them;
// - by crane (`crane edit manifest`, go-containerregistry, the library inside cosign), so a test sees
//   what a real client does around them: on a registry without the referrers API it maintains the
//   fallback tag `sha256-<hex>`.
import { randomBytes } from 'node:crypto';
import type { RunOptions, ToolResult, ToolRunner } from './clients.ts';
import {
  mediaTypes,
  pushBlob,
  putManifest,
  sha256Digest,
  type Descriptor,
  type Endpoint,
  type PutResult,
} from './oci-http.ts';

export const sigstoreBundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export interface ArtifactOptions {
  artifactType?: string;
  /** The single layer's media type (defaults to the artifact type) and bytes (random by default). */
  layerMediaType?: string;
  layer?: Uint8Array;
  annotations?: Record<string, string>;
}

export interface BuiltArtifact {
  digest: string;
  bytes: Buffer;
  /** The descriptor a referrers index should list for it. */
  descriptor: Descriptor;
}

/**
 * Uploads the empty config and the layer, and returns the manifest bytes of an artifact shaped like the
 * ones cosign v3 writes (shared/notes/sigstore-formats.md §2.2). `indent` spaces the JSON unusually, so a
 * test can tell "stored verbatim" from "re-serialised the same way".
 */
export async function buildArtifact(
  registry: Endpoint,
  repository: string,
  subject: Descriptor,
  options: ArtifactOptions = {},
  indent?: number,
): Promise<BuiltArtifact> {
  const artifactType = options.artifactType ?? sigstoreBundleType;
  const config = await pushBlob(registry, repository, Buffer.from('{}'), mediaTypes.ociEmpty);
  const layer = await pushBlob(
    registry,
    repository,
    options.layer ?? randomBytes(64),
    options.layerMediaType ?? artifactType,
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    artifactType,
    config,
    layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, indent));
  const digest = sha256Digest(bytes);
  const descriptor: Descriptor = {
    mediaType: mediaTypes.ociManifest,
    digest,
    size: bytes.byteLength,
    artifactType,
  };
  if (options.annotations !== undefined) descriptor.annotations = options.annotations;
  return { digest, bytes, descriptor };
}

/** Pushes an artifact by digest with one plain PUT; nothing else is written. */
export async function pushArtifactHttp(
  registry: Endpoint,
  repository: string,
  subject: Descriptor,
  options: ArtifactOptions = {},
): Promise<BuiltArtifact & { put: PutResult }> {
  const artifact = await buildArtifact(registry, repository, subject, options, 1);
  const put = await putManifest(
    registry,
    repository,
    artifact.digest,
    artifact.bytes,
    mediaTypes.ociManifest,
  );
  return { ...artifact, put };
}

/**
 * Pushes an artifact by digest with crane, as cosign would: go-containerregistry updates the fallback
 * tag when the registry does not answer the push with `OCI-Subject`. `check: false` in `run` returns a
 * failed crane instead of throwing.
 */
export async function pushArtifactCrane(
  crane: ToolRunner,
  /** A `Registry` fits; for TLS or auth, give crane SSL_CERT_FILE and a login in `run`/the runner. */
  registry: { host: string } & Exclude<Endpoint, string>,
  repository: string,
  subject: Descriptor,
  options: ArtifactOptions = {},
  run: RunOptions = {},
): Promise<BuiltArtifact & { crane: ToolResult }> {
  const artifact = await buildArtifact(registry, repository, subject, options);
  const result = await crane(
    [
      'edit',
      'manifest',
      `${registry.host}/${repository}@${subject.digest}`,
      '-t',
      `${registry.host}/${repository}@${artifact.digest}`,
      '-m',
      mediaTypes.ociManifest,
    ],
    { ...run, input: artifact.bytes },
  );
  return { ...artifact, crane: result };
}
