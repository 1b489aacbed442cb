// Referrers of a subject digest: the OCI 1.1 referrers API when the registry has it, else the
// distribution spec's fallback tag `sha256-<hex>` (an index maintained by writers). Also the writer's
// side: push a manifest with a subject and keep the fallback tag up to date when the API is missing.
import { SigwardError } from '../errors.ts';
import { apiPath, pullScope, signalOption, type Context } from './context.ts';
import { assertDigest, referrersTag } from './digest.ts';
import { header, requestDetails } from './http.ts';
import { parseManifest, type Descriptor } from './manifest.ts';
import { findManifest, pushManifest, type PushedManifest } from './manifests.ts';
import { OCI_EMPTY, OCI_INDEX } from './media-types.ts';
import { referenceIn, type RepositoryName } from './reference.ts';
import { registryErrorOf, statusError } from './registry-errors.ts';

export interface ReferrersOptions {
  /** Only referrers of this artifact type. */
  readonly artifactType?: string;
  /**
   * Default true: without the API, read the fallback tag instead. False: answer `api-missing` at once,
   * for callers that read the fallback tag themselves (in parallel, and without trusting its entries).
   */
  readonly fallbackTag?: boolean;
  readonly signal?: AbortSignal;
}

export interface Referrers {
  /** Which way the list was read. */
  readonly source: 'referrers-api' | 'fallback-tag' | 'api-missing';
  /**
   * The referrers. From the fallback tag, entries whose `artifactType` is missing or the empty media
   * type are kept even when filtering: writers such as cosign's go-containerregistry do not lift it into
   * the index (sigstore/cosign#4641), so the caller must read those manifests to know their type.
   */
  readonly descriptors: readonly Descriptor[];
}

const maxPages = 20;
/**
 * Most referrers one listing may hold, over all its pages. Discovery examines a few dozen; without a
 * bound, a registry could make one verification parse and keep 20 pages of 4 MiB of descriptors (a
 * few images at once would exhaust the webhook's memory).
 */
export const MAX_LISTED_REFERRERS = 10_000;

/**
 * Whether a fallback-index entry's artifactType says what the referrer is. Writers that do not lift it
 * leave it out, or put the config's media type there, the empty one (sigstore/cosign#4641,
 * kyverno/kyverno#16664): such entries are kept, and the caller reads the manifest to learn its type.
 */
function artifactTypeKnown(artifactType: string | undefined): boolean {
  return artifactType !== undefined && artifactType !== OCI_EMPTY;
}
const noApiStatuses: ReadonlySet<number> = new Set([400, 404, 405, 406]);

function nextLink(link: string | undefined): string | undefined {
  if (link === undefined) return undefined;
  for (const part of link.split(',')) {
    const match = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (match !== null && /rel="?next"?/i.test(match[2] ?? '')) return match[1];
  }
  return undefined;
}

function dedupe(descriptors: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return descriptors.filter((d) => (seen.has(d.digest) ? false : (seen.add(d.digest), true)));
}

async function fromFallbackTag(
  ctx: Context,
  name: RepositoryName,
  subject: string,
  options: ReferrersOptions,
): Promise<Referrers> {
  const found = await findManifest(ctx, referenceIn(name, referrersTag(subject)), options.signal);
  if (found === undefined) return { source: 'fallback-tag', descriptors: [] };
  if (found.manifest.kind !== 'index') {
    throw new SigwardError('REGISTRY_PROTOCOL', `the referrers tag of ${subject} is not an index`, {
      details: { registry: name.registry, subject },
    });
  }
  const wanted = options.artifactType;
  const descriptors = found.manifest.manifests.filter(
    (d) => wanted === undefined || d.artifactType === wanted || !artifactTypeKnown(d.artifactType),
  );
  return { source: 'fallback-tag', descriptors: dedupe(descriptors) };
}

function withoutApi(
  ctx: Context,
  name: RepositoryName,
  subject: string,
  options: ReferrersOptions,
): Promise<Referrers> {
  if (options.fallbackTag === false) return Promise.resolve({ source: 'api-missing', descriptors: [] });
  return fromFallbackTag(ctx, name, subject, options);
}

/**
 * The referrers of `subject` in a repository; the API first, the fallback tag when it answers 404.
 * A registry that answered so is not asked again while `ctx.referrers` remembers it.
 */
export async function listReferrers(
  ctx: Context,
  name: RepositoryName,
  subject: string,
  options: ReferrersOptions = {},
): Promise<Referrers> {
  assertDigest(subject, 'subject digest');
  if (ctx.referrers?.knownMissing(name.registry) === true) return withoutApi(ctx, name, subject, options);
  const query =
    options.artifactType === undefined ? '' : `?artifactType=${encodeURIComponent(options.artifactType)}`;
  let path = apiPath(name, `referrers/${subject}${query}`);
  const collected: Descriptor[] = [];
  let listed = 0;
  for (let page = 0; page < maxPages; page++) {
    const response = await ctx.session.send({
      registry: name.registry,
      scopes: pullScope(name),
      method: 'GET',
      path,
      headers: { accept: OCI_INDEX },
      maxBytes: ctx.limits.maxManifestBytes,
      ...signalOption(options.signal),
    });
    // A registry with the API never answers 404 (distribution spec). Like go-containerregistry, also
    // take 400 and 406 for "no API", and 405 (olareg with the API switched off answers UNSUPPORTED).
    if (page === 0 && noApiStatuses.has(response.status)) {
      if (registryErrorOf(response.body).code !== 'NAME_UNKNOWN') ctx.referrers?.recordMissing(name.registry);
      return withoutApi(ctx, name, subject, options);
    }
    if (page === 0 && response.status === 200) ctx.referrers?.recordPresent(name.registry);
    if (response.status !== 200) throw statusError(response, 'GET', `referrers of ${subject}`);
    const details = requestDetails('GET', response.url, { subject });
    const index = parseManifest(response.body, header(response, 'content-type') ?? OCI_INDEX, details);
    if (index.kind !== 'index') {
      throw new SigwardError(
        'REGISTRY_PROTOCOL',
        'the referrers API returned something other than an index',
        {
          details,
        },
      );
    }
    listed += index.manifests.length;
    if (listed > MAX_LISTED_REFERRERS) {
      throw new SigwardError(
        'REGISTRY_TOO_LARGE',
        `the referrers API lists more than ${MAX_LISTED_REFERRERS} referrers of ${subject} (${listed} in ${page + 1} page(s)); sigward reads no further: delete the referrers this image no longer needs (\`oras discover\` lists them) or sign and deploy a new digest`,
        { details: { ...details, limit: MAX_LISTED_REFERRERS, listed } },
      );
    }
    const applied = (header(response, 'oci-filters-applied') ?? '').split(',').map((s) => s.trim());
    const wanted = options.artifactType;
    const filterHere = wanted !== undefined && !applied.includes('artifactType');
    collected.push(...index.manifests.filter((d) => !filterHere || d.artifactType === wanted));
    const next = nextLink(header(response, 'link'));
    if (next === undefined) return { source: 'referrers-api', descriptors: dedupe(collected) };
    path = next;
  }
  throw new SigwardError(
    'REGISTRY_PROTOCOL',
    `the referrers of ${subject} span more than ${maxPages} pages`,
    {
      details: { registry: name.registry, subject },
    },
  );
}

export interface PushedReferrer extends PushedManifest {
  /** Whether the fallback tag was written (the registry has no referrers API). */
  readonly fallbackTagUpdated: boolean;
}

/**
 * Adds a descriptor to the fallback tag index of `subject` (creating it when absent). Uses If-Match
 * with the index's ETag when the registry gave one, so a concurrent writer fails with REGISTRY_CONFLICT
 * rather than being silently overwritten.
 */
export async function addToReferrersTag(
  ctx: Context,
  name: RepositoryName,
  subject: string,
  descriptor: Descriptor,
  signal?: AbortSignal,
): Promise<boolean> {
  const tag = referrersTag(subject);
  const current = await findManifest(ctx, referenceIn(name, tag), signal);
  let index: Record<string, unknown>;
  if (current === undefined) {
    index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
  } else {
    if (current.manifest.kind !== 'index') {
      throw new SigwardError('REGISTRY_PROTOCOL', `the referrers tag ${tag} holds a manifest, not an index`, {
        details: { registry: name.registry, subject },
      });
    }
    if (current.manifest.manifests.some((d) => d.digest === descriptor.digest)) return false;
    // Keep whatever else the existing index holds: edit its JSON, not our typed view of it.
    index = JSON.parse(Buffer.from(current.bytes).toString('utf8')) as Record<string, unknown>;
  }
  index['manifests'] = [...(index['manifests'] as unknown[]), descriptor];
  await pushManifest(ctx, name, Buffer.from(JSON.stringify(index), 'utf8'), OCI_INDEX, {
    tag,
    ...(current?.etag === undefined ? {} : { ifMatch: current.etag }),
    ...signalOption(signal),
  });
  return true;
}

/**
 * Pushes a manifest that has a `subject` by digest, then makes it findable: through the referrers API
 * when the registry indexes subjects (OCI-Subject header and a working API), otherwise through the
 * fallback tag.
 */
export async function pushReferrer(
  ctx: Context,
  name: RepositoryName,
  bytes: Uint8Array,
  mediaType: string,
  signal?: AbortSignal,
): Promise<PushedReferrer> {
  const manifest = parseManifest(bytes, mediaType);
  if (manifest.subject === undefined) {
    throw new SigwardError('OCI_INVALID_ARGUMENT', 'a referrer manifest needs a subject');
  }
  const pushed = await pushManifest(ctx, name, bytes, mediaType, signalOption(signal));
  const subject = manifest.subject.digest;
  // Some registries (ECR) send OCI-Subject without serving the API, so probe it before trusting it.
  if (pushed.subject === subject) {
    const listed = await listReferrers(ctx, name, subject, signalOption(signal));
    if (listed.source === 'referrers-api') return { ...pushed, fallbackTagUpdated: false };
  }
  const artifactType =
    manifest.artifactType ?? (manifest.kind === 'manifest' ? manifest.config.mediaType : undefined);
  const entry: Descriptor = {
    ...pushed.descriptor,
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(manifest.annotations === undefined ? {} : { annotations: manifest.annotations }),
  };
  const updated = await addToReferrersTag(ctx, name, subject, entry, signal);
  return { ...pushed, fallbackTagUpdated: updated };
}
