// Plain OCI distribution requests, for e2e tests to look at what landed in a registry without going
// through the code under test (src/oci) or a client that might hide what it did (crane, cosign).
// Anonymous, plain HTTP, loopback only: the world's registries have no auth unless a test adds it.
import { createHash } from 'node:crypto';
import { WorldError } from './errors.ts';

export const mediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

const manifestAccept = [
  mediaTypes.ociManifest,
  mediaTypes.ociIndex,
  mediaTypes.dockerManifest,
  mediaTypes.dockerList,
].join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

/** The fields of an OCI manifest or index that tests look at; everything else stays in `raw`. */
export interface ManifestJson {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface FetchedManifest {
  /** The registry's Docker-Content-Digest header (absent from some error paths). */
  headerDigest: string | undefined;
  /** sha256 of the bytes received: what the digest must be. */
  computedDigest: string;
  contentType: string;
  bytes: Buffer;
  json: ManifestJson;
}

export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The referrers fallback tag of a digest (OCI distribution spec, "Referrers Tag Schema"). */
export function fallbackTag(digest: string): string {
  const [algorithm = '', hex = ''] = digest.split(':');
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9._-]/g, '-');
  return `${clean(algorithm).slice(0, 32)}-${clean(hex).slice(0, 64)}`;
}

function fail(what: string, response: Response, body: string): never {
  throw new WorldError(
    'REGISTRY_REQUEST',
    `${what}: ${response.status} ${response.statusText} ${body.slice(0, 300)}`.trim(),
  );
}

/** GET a manifest or index by tag or digest; undefined on 404. */
export async function getManifest(
  registryUrl: string,
  repository: string,
  reference: string,
): Promise<FetchedManifest | undefined> {
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, {
    headers: { accept: manifestAccept },
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  if (response.status === 404) return undefined;
  if (!response.ok) fail(`GET manifest ${repository}:${reference}`, response, bytes.toString());
  return {
    headerDigest: response.headers.get('docker-content-digest') ?? undefined,
    computedDigest: sha256Digest(bytes),
    contentType: response.headers.get('content-type') ?? '',
    bytes,
    json: JSON.parse(bytes.toString('utf8')) as ManifestJson,
  };
}

/** HEAD a manifest: the registry's digest, or undefined on 404. */
export async function headDigest(
  registryUrl: string,
  repository: string,
  reference: string,
): Promise<string | undefined> {
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, {
    method: 'HEAD',
    headers: { accept: manifestAccept },
  });
  if (response.status === 404) return undefined;
  if (!response.ok) fail(`HEAD manifest ${repository}:${reference}`, response, '');
  return response.headers.get('docker-content-digest') ?? undefined;
}

/** GET a blob's bytes. */
export async function getBlob(registryUrl: string, repository: string, digest: string): Promise<Buffer> {
  const response = await fetch(`${registryUrl}/v2/${repository}/blobs/${digest}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  if (!response.ok) fail(`GET blob ${repository}@${digest}`, response, bytes.toString());
  return bytes;
}

/** Monolithic blob upload (POST then PUT with the digest); returns its descriptor fields. */
export async function pushBlob(
  registryUrl: string,
  repository: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<Descriptor> {
  const digest = sha256Digest(bytes);
  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  if (start.status !== 202) fail(`start upload to ${repository}`, start, '');
  const location = new URL(start.headers.get('location') ?? '', registryUrl);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  const text = await put.text();
  if (put.status !== 201) fail(`upload blob to ${repository}`, put, text);
  return { mediaType, digest, size: bytes.byteLength };
}

export interface PutResult {
  digest: string;
  /** The OCI-Subject header: set by a registry that processed the manifest's subject (referrers API). */
  ociSubject: string | undefined;
}

/** PUT a manifest (bytes exactly as given) under a tag or its digest. */
export async function putManifest(
  registryUrl: string,
  repository: string,
  reference: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<PutResult> {
  const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  const text = await response.text();
  if (response.status !== 201) fail(`PUT manifest ${repository}:${reference}`, response, text);
  return {
    digest: response.headers.get('docker-content-digest') ?? sha256Digest(bytes),
    ociSubject: response.headers.get('oci-subject') ?? undefined,
  };
}

export interface ReferrersAnswer {
  status: number;
  /** The index, when the API answered 200. */
  index: ManifestJson | undefined;
  contentType: string;
  filtersApplied: string | undefined;
}

/** `GET /v2/<repo>/referrers/<digest>[?artifactType=…]`, whatever it answers. */
export async function referrers(
  registryUrl: string,
  repository: string,
  digest: string,
  artifactType?: string,
): Promise<ReferrersAnswer> {
  const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
  const response = await fetch(`${registryUrl}/v2/${repository}/referrers/${digest}${query}`, {
    headers: { accept: mediaTypes.ociIndex },
  });
  const text = await response.text();
  return {
    status: response.status,
    index: response.status === 200 ? (JSON.parse(text) as ManifestJson) : undefined,
    contentType: response.headers.get('content-type') ?? '',
    filtersApplied: response.headers.get('oci-filters-applied') ?? undefined,
  };
}

/** The tags of a repository (empty when it does not exist). */
export async function tags(registryUrl: string, repository: string): Promise<string[]> {
  const response = await fetch(`${registryUrl}/v2/${repository}/tags/list`);
  const text = await response.text();
  if (response.status === 404) return [];
  if (!response.ok) fail(`list tags of ${repository}`, response, text);
  return ((JSON.parse(text) as { tags?: string[] | null }).tags ?? []).slice().sort();
}

/** The descriptor of a stored manifest (what a `subject` or an index entry points at). */
export async function descriptorOf(
  registryUrl: string,
  repository: string,
  reference: string,
): Promise<Descriptor> {
  const fetched = await getManifest(registryUrl, repository, reference);
  if (fetched === undefined)
    throw new WorldError('REGISTRY_REQUEST', `no manifest ${repository}:${reference}`);
  return {
    mediaType: fetched.json.mediaType ?? fetched.contentType,
    digest: fetched.computedDigest,
    size: fetched.bytes.byteLength,
  };
}
