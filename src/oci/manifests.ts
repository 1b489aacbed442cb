// Manifests and indexes by tag or digest: resolve (HEAD, GET when HEAD says too little), fetch with the
// digest checked, find (absence is a value, not an error), and push by tag or digest.
import { SigwardError } from '../errors.ts';
import { apiPath, pullScope, pushScope, signalOption, type Context } from './context.ts';
import { assertDigest, digestOf, verifyDigest, type DigestAlgorithm } from './digest.ts';
import { header, requestDetails, type HttpResponse } from './http.ts';
import { parseManifest, type Descriptor, type Manifest } from './manifest.ts';
import { bareMediaType, isManifestType, MANIFEST_ACCEPT } from './media-types.ts';
import {
  formatReference,
  manifestIdentifier,
  type ImageReference,
  type RepositoryName,
} from './reference.ts';
import { statusError } from './registry-errors.ts';

export interface FetchedManifest {
  /** The digest of `bytes`, checked: the one asked for, or the registry's Docker-Content-Digest. */
  readonly digest: string;
  readonly mediaType: string;
  /** The exact bytes; digests and signatures are over these. */
  readonly bytes: Uint8Array;
  readonly manifest: Manifest;
  /** For a conditional update (If-Match) of this manifest's tag. */
  readonly etag?: string;
}

export interface PushedManifest {
  readonly descriptor: Descriptor;
  /** The OCI-Subject header: the registry indexed the manifest's subject for the referrers API. */
  readonly subject?: string;
}

export interface PushManifestOptions {
  /** Push under this tag; without it, by digest. */
  readonly tag?: string;
  /** Only replace the tag if it still has this ETag (HTTP 412 → REGISTRY_CONFLICT). */
  readonly ifMatch?: string;
  readonly signal?: AbortSignal;
}

async function getResponse(
  ctx: Context,
  reference: ImageReference,
  signal?: AbortSignal,
): Promise<HttpResponse> {
  return ctx.session.send({
    registry: reference.registry,
    scopes: pullScope(reference),
    method: 'GET',
    path: apiPath(reference, `manifests/${manifestIdentifier(reference)}`),
    headers: { accept: MANIFEST_ACCEPT },
    maxBytes: ctx.limits.maxManifestBytes,
    ...signalOption(signal),
  });
}

function checked(response: HttpResponse, reference: ImageReference): FetchedManifest {
  const details = requestDetails('GET', response.url, { reference: formatReference(reference) });
  const announced = header(response, 'docker-content-digest');
  let digest: string;
  if (reference.digest !== undefined) {
    verifyDigest(response.body, reference.digest, details);
    digest = reference.digest;
  } else if (announced !== undefined) {
    assertDigest(announced, 'Docker-Content-Digest', details);
    verifyDigest(response.body, announced, details);
    digest = announced;
  } else {
    digest = digestOf(response.body);
  }
  const manifest = parseManifest(response.body, header(response, 'content-type'), details);
  const etag = header(response, 'etag');
  return {
    digest,
    mediaType: manifest.mediaType,
    bytes: response.body,
    manifest,
    ...(etag === undefined ? {} : { etag }),
  };
}

/** The manifest or index a reference names (by digest when it has one). REGISTRY_NOT_FOUND if absent. */
export async function getManifest(
  ctx: Context,
  reference: ImageReference,
  signal?: AbortSignal,
): Promise<FetchedManifest> {
  const response = await getResponse(ctx, reference, signal);
  if (response.status !== 200) throw statusError(response, 'GET', `manifest ${formatReference(reference)}`);
  return checked(response, reference);
}

/**
 * Like getManifest, but a 404 is `undefined`: for tags that may rightly not exist (signature tags,
 * the referrers fallback tag). Every other failure still throws.
 */
export async function findManifest(
  ctx: Context,
  reference: ImageReference,
  signal?: AbortSignal,
): Promise<FetchedManifest | undefined> {
  const response = await getResponse(ctx, reference, signal);
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw statusError(response, 'GET', `manifest ${formatReference(reference)}`);
  return checked(response, reference);
}

/**
 * The descriptor (digest, media type, size) of what a reference names, from a HEAD; falls back to a GET
 * (digest computed from the bytes) when the HEAD lacks a digest or a manifest media type.
 */
export async function resolveManifest(
  ctx: Context,
  reference: ImageReference,
  signal?: AbortSignal,
): Promise<Descriptor> {
  const response = await ctx.session.send({
    registry: reference.registry,
    scopes: pullScope(reference),
    method: 'HEAD',
    path: apiPath(reference, `manifests/${manifestIdentifier(reference)}`),
    headers: { accept: MANIFEST_ACCEPT },
    maxBytes: 0,
    ...signalOption(signal),
  });
  if ([401, 403, 404, 429].includes(response.status)) {
    throw statusError(response, 'HEAD', `manifest ${formatReference(reference)}`);
  }
  const announced = header(response, 'docker-content-digest');
  const mediaType = bareMediaType(header(response, 'content-type'));
  const size = Number(header(response, 'content-length'));
  if (
    response.status === 200 &&
    announced !== undefined &&
    mediaType !== undefined &&
    isManifestType(mediaType)
  ) {
    assertDigest(announced, 'Docker-Content-Digest', requestDetails('HEAD', response.url));
    if (reference.digest !== undefined && announced !== reference.digest) {
      throw new SigwardError(
        'REGISTRY_DIGEST_MISMATCH',
        `${formatReference(reference)}: the registry announced ${announced}`,
        { details: requestDetails('HEAD', response.url, { expected: reference.digest, actual: announced }) },
      );
    }
    if (Number.isSafeInteger(size) && size >= 0 && size <= ctx.limits.maxManifestBytes) {
      return { mediaType, digest: announced, size };
    }
  }
  const fetched = await getManifest(ctx, reference, signal);
  return { mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.bytes.length };
}

/** Pushes manifest bytes as they are, under a tag or by digest; checks the digest the registry reports. */
export async function pushManifest(
  ctx: Context,
  name: RepositoryName,
  bytes: Uint8Array,
  mediaType: string,
  options: PushManifestOptions = {},
): Promise<PushedManifest> {
  if (bytes.length > ctx.limits.maxManifestBytes) {
    throw new SigwardError('REGISTRY_TOO_LARGE', `manifest of ${bytes.length} bytes exceeds the push limit`, {
      details: { limit: ctx.limits.maxManifestBytes },
    });
  }
  const algorithm: DigestAlgorithm = 'sha256';
  const digest = digestOf(bytes, algorithm);
  const target = options.tag ?? digest;
  const what = `manifest ${name.registry}/${name.repository}:${target}`;
  const response = await ctx.session.send({
    registry: name.registry,
    scopes: pushScope(name),
    method: 'PUT',
    path: apiPath(name, `manifests/${target}`),
    headers: {
      'content-type': mediaType,
      ...(options.ifMatch === undefined ? {} : { 'if-match': options.ifMatch }),
    },
    body: bytes,
    maxBytes: 64 * 1024,
    ...signalOption(options.signal),
  });
  if (response.status !== 201 && response.status !== 200 && response.status !== 202) {
    throw statusError(response, 'PUT', what);
  }
  const announced = header(response, 'docker-content-digest');
  if (announced !== undefined && announced !== digest) {
    throw new SigwardError(
      'REGISTRY_DIGEST_MISMATCH',
      `${what}: the registry stored ${announced}, not ${digest}`,
      {
        details: requestDetails('PUT', response.url, { expected: digest, actual: announced }),
      },
    );
  }
  const subject = header(response, 'oci-subject');
  return {
    descriptor: { mediaType, digest, size: bytes.length },
    ...(subject === undefined ? {} : { subject }),
  };
}
