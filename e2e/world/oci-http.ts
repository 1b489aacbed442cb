// Plain OCI distribution requests, for e2e tests to look at what landed in a registry without going
// through the code under test (src/oci) or a client that might hide what it did (crane, cosign).
// Loopback only; plain HTTP by default, or TLS with the registry's CA and credentials (`Endpoint`).
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
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

/**
 * Where to send requests: a registry URL, or a registry with its CA (a `Registry` from registry.ts fits)
 * and, for one with auth, an Authorization header value (`Basic …`).
 */
export type Endpoint = string | { url: string; caPem?: string; authorization?: string };

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function header(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** One request, the whole answer in memory (registries in tests answer small bodies). */
function send(
  endpoint: Endpoint,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body?: Uint8Array,
): Promise<Answer> {
  const base = typeof endpoint === 'string' ? { url: endpoint } : endpoint;
  const url = new URL(target, base.url);
  const client = url.protocol === 'https:' ? https : http;
  const allHeaders: Record<string, string> = { ...headers };
  if (base.authorization !== undefined) allHeaders.authorization = base.authorization;
  if (body !== undefined) allHeaders['content-length'] = String(body.byteLength);
  return new Promise((resolve, reject) => {
    const request = client.request(
      url,
      { method, headers: allHeaders, ca: base.caPem, timeout: 30_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} ${url.href}: no answer within 30 s`)));
    request.on('error', reject);
    request.end(body);
  });
}

function fail(what: string, answer: Answer): never {
  throw new WorldError(
    'REGISTRY_REQUEST',
    `${what}: ${answer.status} ${answer.body.toString('utf8').slice(0, 300)}`.trim(),
  );
}

/** GET a manifest or index by tag or digest; undefined on 404. */
export async function getManifest(
  registry: Endpoint,
  repository: string,
  reference: string,
): Promise<FetchedManifest | undefined> {
  const answer = await send(registry, 'GET', `/v2/${repository}/manifests/${reference}`, {
    accept: manifestAccept,
  });
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) fail(`GET manifest ${repository}:${reference}`, answer);
  return {
    headerDigest: header(answer, 'docker-content-digest'),
    computedDigest: sha256Digest(answer.body),
    contentType: header(answer, 'content-type') ?? '',
    bytes: answer.body,
    json: JSON.parse(answer.body.toString('utf8')) as ManifestJson,
  };
}

/** HEAD a manifest: the registry's digest, or undefined on 404. */
export async function headDigest(
  registry: Endpoint,
  repository: string,
  reference: string,
): Promise<string | undefined> {
  const answer = await send(registry, 'HEAD', `/v2/${repository}/manifests/${reference}`, {
    accept: manifestAccept,
  });
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) fail(`HEAD manifest ${repository}:${reference}`, answer);
  return header(answer, 'docker-content-digest');
}

/** GET a blob's bytes (following the redirect a registry may answer with, on the same endpoint). */
export async function getBlob(registry: Endpoint, repository: string, digest: string): Promise<Buffer> {
  let answer = await send(registry, 'GET', `/v2/${repository}/blobs/${digest}`);
  const location = header(answer, 'location');
  if (answer.status >= 300 && answer.status < 400 && location !== undefined) {
    answer = await send(registry, 'GET', location);
  }
  if (answer.status !== 200) fail(`GET blob ${repository}@${digest}`, answer);
  return answer.body;
}

/** Monolithic blob upload (POST then PUT with the digest); returns its descriptor fields. */
export async function pushBlob(
  registry: Endpoint,
  repository: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<Descriptor> {
  const digest = sha256Digest(bytes);
  const start = await send(registry, 'POST', `/v2/${repository}/blobs/uploads/`);
  if (start.status !== 202) fail(`start upload to ${repository}`, start);
  const base = typeof registry === 'string' ? registry : registry.url;
  const location = new URL(header(start, 'location') ?? '', base);
  location.searchParams.set('digest', digest);
  const put = await send(
    registry,
    'PUT',
    location.href,
    { 'content-type': 'application/octet-stream' },
    bytes,
  );
  if (put.status !== 201) fail(`upload blob to ${repository}`, put);
  return { mediaType, digest, size: bytes.byteLength };
}

export interface PutResult {
  digest: string;
  /** The OCI-Subject header: set by a registry that processed the manifest's subject (referrers API). */
  ociSubject: string | undefined;
}

/** PUT a manifest (bytes exactly as given) under a tag or its digest. */
export async function putManifest(
  registry: Endpoint,
  repository: string,
  reference: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<PutResult> {
  const answer = await send(
    registry,
    'PUT',
    `/v2/${repository}/manifests/${reference}`,
    { 'content-type': mediaType },
    bytes,
  );
  if (answer.status !== 201) fail(`PUT manifest ${repository}:${reference}`, answer);
  return {
    digest: header(answer, 'docker-content-digest') ?? sha256Digest(bytes),
    ociSubject: header(answer, 'oci-subject'),
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
  registry: Endpoint,
  repository: string,
  digest: string,
  artifactType?: string,
): Promise<ReferrersAnswer> {
  const query = artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(artifactType)}`;
  const answer = await send(registry, 'GET', `/v2/${repository}/referrers/${digest}${query}`, {
    accept: mediaTypes.ociIndex,
  });
  return {
    status: answer.status,
    index: answer.status === 200 ? (JSON.parse(answer.body.toString('utf8')) as ManifestJson) : undefined,
    contentType: header(answer, 'content-type') ?? '',
    filtersApplied: header(answer, 'oci-filters-applied'),
  };
}

/** The tags of a repository (empty when it does not exist). */
export async function tags(registry: Endpoint, repository: string): Promise<string[]> {
  const answer = await send(registry, 'GET', `/v2/${repository}/tags/list`);
  if (answer.status === 404) return [];
  if (answer.status !== 200) fail(`list tags of ${repository}`, answer);
  const list = JSON.parse(answer.body.toString('utf8')) as { tags?: string[] | null };
  return (list.tags ?? []).slice().sort();
}

/** The descriptor of a stored manifest (what a `subject` or an index entry points at). */
export async function descriptorOf(
  registry: Endpoint,
  repository: string,
  reference: string,
): Promise<Descriptor> {
  const fetched = await getManifest(registry, repository, reference);
  if (fetched === undefined)
    throw new WorldError('REGISTRY_REQUEST', `no manifest ${repository}:${reference}`);
  return {
    mediaType: fetched.json.mediaType ?? fetched.contentType,
    digest: fetched.computedDigest,
    size: fetched.bytes.byteLength,
  };
}
