// Media types of manifests, indexes and the blobs this project reads or writes.

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
/** The empty descriptor's media type (config of artifacts); its blob is `{}`. */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const OCI_EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

const imageManifestTypes: ReadonlySet<string> = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);
const indexTypes: ReadonlySet<string> = new Set([OCI_INDEX, DOCKER_MANIFEST_LIST]);

export function isImageManifestType(mediaType: string): boolean {
  return imageManifestTypes.has(mediaType);
}

export function isIndexType(mediaType: string): boolean {
  return indexTypes.has(mediaType);
}

export function isManifestType(mediaType: string): boolean {
  return isImageManifestType(mediaType) || isIndexType(mediaType);
}

/** The Accept header of every manifest request: only the schema-2 and OCI types, no schema 1. */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(', ');

/** `application/json; charset=utf-8` → `application/json`. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const bare = contentType.split(';')[0]?.trim().toLowerCase();
  return bare === undefined || bare.length === 0 ? undefined : bare;
}
