// Blobs: fetch with a size cap and the digest checked, existence checks, and push (cross-repository
// mount when possible, otherwise a monolithic POST + PUT upload).
import { SigwardError } from '../errors.ts';
import { apiPath, pullScope, pushScope, signalOption, type Context } from './context.ts';
import { assertDigest, digestOf, verifyDigest } from './digest.ts';
import { header, requestDetails } from './http.ts';
import type { Descriptor } from './manifest.ts';
import type { RepositoryName } from './reference.ts';
import { statusError } from './registry-errors.ts';

export interface GetBlobOptions {
  /** Cap for this blob, below the client's maxBlobBytes (e.g. a signature layer's declared size). */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
}

export interface PushBlobOptions {
  /** A repository on the same registry that may already hold the blob: mounted instead of uploaded. */
  readonly mountFrom?: RepositoryName;
  readonly signal?: AbortSignal;
}

export interface PushedBlob {
  readonly digest: string;
  readonly size: number;
  /** How it got there: it was already present, mounted from another repository, or uploaded. */
  readonly how: 'existed' | 'mounted' | 'uploaded';
}

/**
 * The bytes of a blob, checked against its digest. With a descriptor, its size is the cap and must
 * match exactly. Redirects (to a CDN) are followed without credentials.
 */
export async function getBlob(
  ctx: Context,
  name: RepositoryName,
  blob: string | Descriptor,
  options: GetBlobOptions = {},
): Promise<Uint8Array> {
  const digest = typeof blob === 'string' ? blob : blob.digest;
  assertDigest(digest, 'blob digest');
  let maxBytes = Math.min(options.maxBytes ?? ctx.limits.maxBlobBytes, ctx.limits.maxBlobBytes);
  if (typeof blob !== 'string') {
    if (blob.size > maxBytes) {
      throw new SigwardError(
        'REGISTRY_TOO_LARGE',
        `blob ${digest} declares ${blob.size} bytes, over ${maxBytes}`,
        {
          details: { digest, limit: maxBytes, declared: blob.size },
        },
      );
    }
    maxBytes = blob.size;
  }
  const response = await ctx.session.send({
    registry: name.registry,
    scopes: pullScope(name),
    method: 'GET',
    path: apiPath(name, `blobs/${digest}`),
    maxBytes,
    ...signalOption(options.signal),
  });
  if (response.status !== 200)
    throw statusError(response, 'GET', `blob ${name.registry}/${name.repository}@${digest}`);
  verifyDigest(response.body, digest, requestDetails('GET', response.url));
  return response.body;
}

/** Whether the repository holds the blob (HEAD: 200 yes, 404 no, anything else an error). */
export async function blobExists(
  ctx: Context,
  name: RepositoryName,
  digest: string,
  signal?: AbortSignal,
): Promise<boolean> {
  assertDigest(digest, 'blob digest');
  const response = await ctx.session.send({
    registry: name.registry,
    scopes: pullScope(name),
    method: 'HEAD',
    path: apiPath(name, `blobs/${digest}`),
    maxBytes: 0,
    ...signalOption(signal),
  });
  if (response.status === 200) return true;
  if (response.status === 404) return false;
  throw statusError(response, 'HEAD', `blob ${name.registry}/${name.repository}@${digest}`);
}

function uploadLocation(
  location: string | undefined,
  what: string,
  details: ReturnType<typeof requestDetails>,
): string {
  if (location === undefined || location.length === 0) {
    throw new SigwardError('REGISTRY_PROTOCOL', `${what}: the registry gave no upload Location`, { details });
  }
  return location;
}

/** Pushes a blob unless the repository has it already. */
export async function pushBlob(
  ctx: Context,
  name: RepositoryName,
  bytes: Uint8Array,
  options: PushBlobOptions = {},
): Promise<PushedBlob> {
  const digest = digestOf(bytes);
  const size = bytes.length;
  const what = `blob ${name.registry}/${name.repository}@${digest}`;
  if (await blobExists(ctx, name, digest, options.signal)) return { digest, size, how: 'existed' };

  const mount = options.mountFrom;
  const mounting =
    mount !== undefined && mount.registry === name.registry && mount.repository !== name.repository;
  const start = await ctx.session.send({
    registry: name.registry,
    scopes: mounting ? [...pushScope(name), ...pullScope(mount)] : pushScope(name),
    method: 'POST',
    path: apiPath(
      name,
      mounting
        ? `blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mount.repository)}`
        : 'blobs/uploads/',
    ),
    body: new Uint8Array(0),
    maxBytes: 64 * 1024,
    ...signalOption(options.signal),
  });
  if (mounting && start.status === 201) return { digest, size, how: 'mounted' };
  if (start.status !== 202) throw statusError(start, 'POST', what);

  const target = ctx.session.url(
    name.registry,
    uploadLocation(header(start, 'location'), what, requestDetails('POST', start.url)),
  );
  target.searchParams.set('digest', digest);
  const put = await ctx.session.send({
    registry: name.registry,
    scopes: pushScope(name),
    method: 'PUT',
    path: target.href,
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
    maxBytes: 64 * 1024,
    ...signalOption(options.signal),
  });
  if (put.status !== 201 && put.status !== 204) throw statusError(put, 'PUT', what);
  const announced = header(put, 'docker-content-digest');
  if (announced !== undefined && announced !== digest) {
    throw new SigwardError('REGISTRY_DIGEST_MISMATCH', `${what}: the registry stored ${announced}`, {
      details: requestDetails('PUT', put.url, { expected: digest, actual: announced }),
    });
  }
  return { digest, size, how: 'uploaded' };
}

/**
 * Whether we may push to a repository, asked without writing anything: opens a blob upload (which
 * needs push access) and cancels it. Throws the registry's refusal (REGISTRY_UNAUTHORIZED,
 * REGISTRY_DENIED, …), e.g. so a signer fails before it signs anything.
 */
export async function checkPushAccess(
  ctx: Context,
  name: RepositoryName,
  signal?: AbortSignal,
): Promise<void> {
  const what = `blob upload to ${name.registry}/${name.repository}`;
  const start = await ctx.session.send({
    registry: name.registry,
    scopes: pushScope(name),
    method: 'POST',
    path: apiPath(name, 'blobs/uploads/'),
    body: new Uint8Array(0),
    maxBytes: 64 * 1024,
    ...signalOption(signal),
  });
  if (start.status !== 202) throw statusError(start, 'POST', what);
  const location = header(start, 'location');
  if (location === undefined || location.length === 0) return;
  // Cancel the empty upload; a registry that cannot lets it expire, so a failure here is no matter.
  await ctx.session
    .send({
      registry: name.registry,
      scopes: pushScope(name),
      method: 'DELETE',
      path: ctx.session.url(name.registry, location).href,
      maxBytes: 64 * 1024,
      ...signalOption(signal),
    })
    .catch(() => undefined);
}
