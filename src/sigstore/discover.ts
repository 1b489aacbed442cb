// Every candidate signature of one image digest, from the three places cosign and sigward write them:
//  - Sigstore bundles as OCI 1.1 referrers, listed by the referrers API (filtered by artifactType);
//  - the same referrers listed in the fallback tag `sha256-<hex>` (registries without the API: where the
//    API answers, the tag is not used, as the distribution spec says and cosign does). That index is
//    written by clients, not the registry, and cosign's writer leaves out the annotations
//    (sigstore/cosign#4641), so nothing in it is trusted to admit: each listed manifest is fetched and
//    its layers decide what it is;
//  - cosign's legacy tag `sha256-<hex>.sig`, one signature per layer (legacy.ts turns each into a bundle;
//    a listener is told those bundles once the payload blobs are asked for, so that verification can
//    start on everything that does not read the payload while it is on its way).
// Attestations are found by discover-attestations.ts, over the same referrers listing (exported here).
// A referrer CLAIMING another predicate type than an image signature's (`cosign attest`: SBOMs,
// provenance) is not downloaded: the claim is the unsigned `dev.sigstore.bundle.predicateType`, read
// from the listing's entry when the registry copies it there (no manifest GET) or else from the
// referrer manifest (no blob GET). A claim only ever makes discovery SKIP: a false one can hide a
// signature (the image is then unsigned, a denial: fail closed), never admit one, since what is read
// is verified from its own bundle; a referrer without a claim is read as before.
// A referrer's `subject` is unsigned and never used: verification checks what each bundle signs against
// the admitted digest. No signatures found is a value (an empty list); a registry failure throws its
// REGISTRY_* error, so a caller can never mistake "could not look" for "unsigned".
import { createHash } from 'node:crypto';
import { SigwardError, describeError } from '../errors.ts';
import { referenceIn, repositoryString } from '../oci/index.ts';
import type { Descriptor, FetchedManifest, RegistryClient, RepositoryName } from '../oci/index.ts';
import { parseBundle } from './bundle.ts';
import type { Bundle } from './bundle.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';
import {
  BUNDLE_ANNOTATION,
  BUNDLE_ARTIFACT_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  isBundleMediaType,
  legacyTag,
  referrersFallbackTag,
  SIMPLE_SIGNING_MEDIA_TYPE,
  DSSE_ENVELOPE_MEDIA_TYPE,
  ANNOTATION,
} from './layout.ts';
import {
  legacyAttestationToBundle,
  legacySignatureBundle,
  legacySignatureOver,
  legacySignatureToBundle,
} from './legacy.ts';
import { mapLimit } from './map-limit.ts';

/** What discovery needs of the OCI client (a RegistryClient, or a stand-in in tests). */
export type SignatureRegistry = Pick<RegistryClient, 'listReferrers' | 'findManifest' | 'getBlob'> &
  Partial<Pick<RegistryClient, 'servesReferrersApi'>>;

export type SignatureSource = 'referrers-api' | 'fallback-tag' | 'legacy-tag';

/** Where one candidate was found: the manifest holding it, and which layer of it. */
export interface SignatureLocation {
  readonly source: SignatureSource;
  /** `registry/repository` searched (the signature repository when one is configured). */
  readonly repository: string;
  /** Digest of the referrer manifest, or of the `.sig` manifest. */
  readonly manifest: string;
  readonly layer: number;
  /** The fallback or legacy tag it was listed under. */
  readonly tag?: string;
}

/** One signature to verify: a bundle (and the simple-signing payload of a legacy layer), or why not. */
export interface SignatureCandidate {
  readonly location: SignatureLocation;
  readonly format: 'bundle' | 'legacy';
  readonly bundle?: Bundle;
  /** The signed bytes of a legacy simple-signing layer. */
  readonly payload?: Uint8Array;
  /** Attestations: the predicate type the statement claims (unverified: verification checks it). */
  readonly predicateType?: string;
  /** Set when the candidate cannot be read as a signature (malformed bundle or layer, missing blob). */
  readonly problem?: SigwardError;
}

export interface Discovery {
  /** `registry/repository` where signatures were looked for. */
  readonly signatureRepository: string;
  readonly digest: string;
  readonly candidates: readonly SignatureCandidate[];
  /** How referrers were listed: the API, or the fallback tag because the registry has no API. */
  readonly referrers: 'referrers-api' | 'fallback-tag';
  /** Listed referrers or layers that are not signatures (SBOMs, other artifacts, gone). */
  readonly ignored: number;
  /** Bundle referrers that are attestations (another in-toto predicate type), not image signatures. */
  readonly attestations: number;
  /** Of `attestations`, those known only by their unsigned claim: skipped, never downloaded. */
  readonly claimedAttestations: number;
  /** More referrers or layers than the caps: those beyond them were not examined. */
  readonly truncated: boolean;
}

export interface DiscoverOptions {
  /** Look for signatures in this repository instead of the image's (cosign's COSIGN_REPOSITORY). */
  readonly signatureRepository?: RepositoryName;
  /** Referrer manifests examined (API and fallback tag together). Default 32. */
  readonly maxReferrers?: number;
  /** Layers of the `.sig` manifest examined. Default 32. */
  readonly maxLayers?: number;
  /** Largest signature blob (bundle JSON or simple-signing payload) fetched. Default 1 MiB. */
  readonly maxSignatureBytes?: number;
  /** Manifests and blobs fetched at once. Default 4. */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

export const DISCOVERY_DEFAULTS = {
  maxReferrers: 32,
  maxLayers: 32,
  maxSignatureBytes: 1024 * 1024,
  maxAttestationBytes: 4 * 1024 * 1024,
  maxTotalAttestationBytes: 16 * 1024 * 1024,
  concurrency: 4,
} as const;

/** What the reads of one discovery share. */
export interface Ctx {
  readonly client: SignatureRegistry;
  readonly repo: RepositoryName;
  readonly repoName: string;
  readonly maxSignatureBytes: number;
  /** Referrer blobs may be attestations: fetched under this larger cap when attestations are wanted. */
  readonly maxReferrerBytes: number;
  /** Bytes still allowed for this discovery's blobs; undefined: no overall budget (signatures only). */
  readonly budget: { remaining: number } | undefined;
  readonly signal: AbortSignal | undefined;
  /** Blobs fetched in this discovery: layers signing one payload share it (one GET, not one per layer). */
  readonly blobs: Map<string, Promise<Uint8Array | SigwardError>>;
  /** Told the legacy signatures' bundles once their payloads are requested (discoverSignatures). */
  readonly onLegacyBundles?: LegacyBundlesListener;
}

/**
 * Told, as soon as the `.sig` manifest is read and its payload blobs are requested, the bundles the
 * legacy signature candidates will carry if their payloads arrive as their descriptors say (read from
 * the annotations and the descriptor's digest): verification can start on what does not need them.
 */
export type LegacyBundlesListener = (bundles: readonly Bundle[]) => void;

/** A discovery's shared state; `attestationCaps` (referrer blob cap, byte budget) for attestations. */
export function discoveryContext(
  client: SignatureRegistry,
  image: { readonly repository: RepositoryName },
  options: DiscoverOptions,
  attestationCaps?: { readonly maxReferrerBytes: number; readonly totalBytes: number },
): Ctx {
  const repo = options.signatureRepository ?? image.repository;
  const maxSignatureBytes = options.maxSignatureBytes ?? DISCOVERY_DEFAULTS.maxSignatureBytes;
  return {
    client,
    repo,
    repoName: repositoryString(repo),
    maxSignatureBytes,
    maxReferrerBytes: attestationCaps?.maxReferrerBytes ?? maxSignatureBytes,
    signal: options.signal,
    blobs: new Map(),
    budget: attestationCaps === undefined ? undefined : { remaining: attestationCaps.totalBytes },
  };
}

/** One bundle referrer listed for the digest, and where it was listed. */
export interface ListedReferrer {
  readonly descriptor: Descriptor;
  readonly source: SignatureSource;
  readonly tag?: string;
}

export interface ReferrerListing {
  /** How referrers were listed: the API, or the fallback tag because the registry has no API. */
  readonly referrers: 'referrers-api' | 'fallback-tag';
  /** API entries first, each digest once (not capped: callers cap what they read). */
  readonly listed: readonly ListedReferrer[];
  /** A fallback tag holding something other than an index (it lists nothing). */
  readonly ignored: number;
}

/**
 * The bundle referrers of `digest`: the referrers API (filtered by the bundle artifactType), or the
 * fallback tag where the API is missing (the distribution spec's rule, as cosign reads it). The tag is
 * read beside the API (no extra round) unless the registry is remembered to serve the API, and then only
 * if the API turns out to be gone.
 */
export async function listBundleReferrers(ctx: Ctx, digest: string): Promise<ReferrerListing> {
  const fallbackTagName = referrersFallbackTag(digest);
  const readFallback = () => ctx.client.findManifest(referenceIn(ctx.repo, fallbackTagName), ctx.signal);
  const apiKnown = ctx.client.servesReferrersApi?.(ctx.repo.registry) === true;
  const [api, fallbackBeside] = await Promise.all([
    ctx.client.listReferrers(ctx.repo, digest, {
      artifactType: BUNDLE_ARTIFACT_TYPE,
      fallbackTag: false,
      ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    }),
    apiKnown ? undefined : readFallback(),
  ]);
  const fallback =
    api.source === 'referrers-api' ? undefined : apiKnown ? await readFallback() : fallbackBeside;
  let ignored = 0;
  const listed: ListedReferrer[] = [];
  const seen = new Set<string>();
  const list = (descriptors: readonly Descriptor[], source: SignatureSource, tag?: string): void => {
    for (const descriptor of descriptors) {
      if (seen.has(descriptor.digest)) continue;
      seen.add(descriptor.digest);
      listed.push({ descriptor, source, ...(tag === undefined ? {} : { tag }) });
    }
  };
  if (api.source === 'referrers-api') list(api.descriptors, 'referrers-api');
  if (fallback !== undefined) {
    // A fallback tag that holds something other than an index lists nothing.
    if (fallback.manifest.kind === 'index')
      list(fallback.manifest.manifests, 'fallback-tag', fallbackTagName);
    else ignored++;
  }
  return { referrers: api.source === 'referrers-api' ? 'referrers-api' : 'fallback-tag', listed, ignored };
}

/** Finds every candidate signature of `digest`; throws the registry's SigwardError if it cannot look. */
export async function discoverSignatures(
  client: SignatureRegistry,
  image: { readonly repository: RepositoryName; readonly digest: string },
  options: DiscoverOptions = {},
  onLegacyBundles?: LegacyBundlesListener,
): Promise<Discovery> {
  const maxReferrers = options.maxReferrers ?? DISCOVERY_DEFAULTS.maxReferrers;
  const maxLayers = options.maxLayers ?? DISCOVERY_DEFAULTS.maxLayers;
  const concurrency = options.concurrency ?? DISCOVERY_DEFAULTS.concurrency;
  const ctx: Ctx = {
    ...discoveryContext(client, image, options),
    ...(onLegacyBundles === undefined ? {} : { onLegacyBundles }),
  };
  const legacyTagName = legacyTag(image.digest);

  // The lookups are independent: one round trip each, in parallel.
  const found = await Promise.all([
    listBundleReferrers(ctx, image.digest),
    client.findManifest(referenceIn(ctx.repo, legacyTagName), options.signal),
  ]);
  return readCandidates(ctx, image.digest, found, { maxReferrers, maxLayers, concurrency, legacyTagName });
}

/**
 * discoverSignatures once the listing and the `.sig` manifest are read. Not async itself: an async
 * function keeps its locals (the manifest) until it returns, and the reads are a round trip away.
 */
function readCandidates(
  ctx: Ctx,
  digest: string,
  [listing, legacy]: [ReferrerListing, FetchedManifest | undefined],
  limits: { maxReferrers: number; maxLayers: number; concurrency: number; legacyTagName: string },
): Promise<Discovery> {
  const { maxReferrers, maxLayers, concurrency, legacyTagName } = limits;
  // Entries claiming an attestation are skipped before the cap (they cost nothing); referrer
  // manifests and the legacy layers are fetched side by side.
  const { readable, skipped } = skipClaimed(listing.listed, isSignatureClaim);
  const { referrers, ignored } = listing;
  const truncated = readable.length > maxReferrers;
  return Promise.all([
    mapLimit(readable.slice(0, maxReferrers), concurrency, (entry) =>
      readReferrer(ctx, entry, isSignatureClaim),
    ),
    legacy === undefined ? undefined : readLegacy(ctx, legacy, legacyTagName, maxLayers, concurrency),
  ]).then(([referrerResults, legacyRead]) =>
    assembled(ctx, digest, { referrers, ignored, truncated, skipped }, referrerResults, legacyRead),
  );
}

function assembled(
  ctx: Ctx,
  digest: string,
  listing: Pick<ReferrerListing, 'referrers' | 'ignored'> & { truncated: boolean; skipped: string[] },
  referrerResults: readonly ReferrerRead[],
  legacyRead: LegacyRead | undefined,
): Discovery {
  const { skipped } = listing;
  const candidates: SignatureCandidate[] = [];
  let ignored = listing.ignored;
  let truncated = listing.truncated;
  let claimedAttestations = skipped.length;
  let attestations = claimedAttestations;
  for (const result of referrerResults) {
    if ('attestation' in result) attestations++;
    else if ('skipped' in result) {
      attestations++;
      claimedAttestations++;
    } else if (result.length === 0) ignored++;
    else candidates.push(...result);
  }
  if (legacyRead !== undefined) {
    candidates.push(...legacyRead.candidates);
    ignored += legacyRead.ignored;
    truncated ||= legacyRead.truncated;
  }
  return {
    signatureRepository: ctx.repoName,
    digest,
    candidates,
    referrers: listing.referrers,
    ignored,
    attestations,
    claimedAttestations,
    truncated,
  };
}

/** Image signatures claim cosign's sign type; a referrer claiming any other is an attestation. */
const isSignatureClaim: ClaimFilter = (claim) => claim === COSIGN_SIGN_PREDICATE_TYPE;

/**
 * Whether to read a referrer or layer that CLAIMS this predicate type (an unsigned annotation): a
 * claim only ever makes discovery skip, so a false one can hide a signature or an attestation (a
 * denial), never admit one.
 */
export type ClaimFilter = (claimedPredicateType: string) => boolean;

/** The predicate type a referrer's (unsigned) annotations claim, if any. */
export function claimIn(annotations: Readonly<Record<string, string>> | undefined): string | undefined {
  return annotations?.[BUNDLE_ANNOTATION.predicateType];
}

/**
 * The listed referrers to read: those whose index entry claims nothing (cosign's fallback tag drops
 * the annotations) or a `wanted` type; the claims of the others, which are never downloaded.
 */
export function skipClaimed(
  listed: readonly ListedReferrer[],
  wanted: ClaimFilter,
): { readable: ListedReferrer[]; skipped: string[] } {
  const readable: ListedReferrer[] = [];
  const skipped: string[] = [];
  for (const entry of listed) {
    const claim = claimIn(entry.descriptor.annotations);
    if (claim === undefined || wanted(claim)) readable.push(entry);
    else skipped.push(claim);
  }
  return { readable, skipped };
}

/**
 * A referrer manifest → its bundle (exactly one bundle layer, as cosign requires), nothing, or
 * 'attestation' for a bundle whose statement has another predicate type (`cosign attest`): the
 * statement is what verification would check, so a bundle set aside for it could never have verified
 * as an image signature. A manifest whose (unsigned) annotation claims a type not `wanted` is
 * `skipped` before its blob is fetched: a claim can only make the caller skip, never admit.
 */
export async function readReferrer(
  ctx: Ctx,
  listed: ListedReferrer,
  wanted: ClaimFilter,
): Promise<ReferrerRead> {
  const fetched = await ctx.client.findManifest(referenceIn(ctx.repo, listed.descriptor.digest), ctx.signal);
  return readReferrerManifest(ctx, listed, fetched, wanted);
}

type ReferrerRead = SignatureCandidate[] | { attestation: SignatureCandidate } | { skipped: string };

/**
 * readReferrer once its manifest is read. Not async itself: an async function keeps its locals (the
 * manifest) until it returns, and a bundle's blob is a round trip away, long enough for the young
 * generation to promote what waits for it; only the layer's descriptor and location wait here.
 */
function readReferrerManifest(
  ctx: Ctx,
  { source, tag }: ListedReferrer,
  fetched: FetchedManifest | undefined,
  wanted: ClaimFilter,
): ReferrerRead | Promise<ReferrerRead> {
  // Listed but gone (deleted, or a stale fallback entry), or not an image manifest: not a signature.
  if (fetched === undefined || fetched.manifest.kind !== 'manifest') return [];
  const layers = fetched.manifest.layers;
  const manifestDigest = fetched.digest;
  const where = (layer: number): SignatureLocation => ({
    source,
    repository: ctx.repoName,
    manifest: manifestDigest,
    layer,
    ...(tag === undefined ? {} : { tag }),
  });
  if (layers.length === 1 && isBundleMediaType(layers[0]?.mediaType)) {
    const claim = claimIn(fetched.manifest.annotations);
    if (claim !== undefined && !wanted(claim)) return { skipped: claim };
    return readBundleLayer(ctx, where(0), blobDescriptor(layers[0]!));
  }
  if (layers.some((l) => isBundleMediaType(l.mediaType))) {
    const problem = new SigstoreError(
      SigstoreErrorCode.bundleMalformed,
      `referrer ${fetched.digest} has ${layers.length} layers; a bundle referrer has exactly one`,
    );
    return [{ location: where(0), format: 'bundle', problem }];
  }
  return [];
}

/** A referrer's one bundle layer, fetched and read. */
async function readBundleLayer(
  ctx: Ctx,
  location: SignatureLocation,
  layer: Descriptor,
): Promise<ReferrerRead> {
  const blob = await fetchSignatureBlob(ctx, layer, ctx.maxReferrerBytes);
  if (blob instanceof SigwardError) return [{ location, format: 'bundle', problem: blob }];
  let bundle: Bundle;
  try {
    bundle = parseBundle(blob);
  } catch (error) {
    return [{ location, format: 'bundle', problem: asSigwardError(error) }];
  }
  const predicateType = claimedPredicateType(bundle);
  if (predicateType !== undefined && predicateType !== COSIGN_SIGN_PREDICATE_TYPE)
    return { attestation: { location, format: 'bundle', bundle, predicateType } };
  return [{ location, format: 'bundle', bundle }];
}

/** What fetching a layer's blob needs of its descriptor (not its annotations). */
function blobDescriptor({ mediaType, digest, size }: Descriptor): Descriptor {
  return { mediaType, digest, size };
}

/**
 * The layers of a legacy `.sig` (or, for `kind` attestation, `.att`) manifest as candidates. With
 * `wanted`, an attestation layer whose `predicateType` annotation claims an unwanted type is not
 * fetched: its claim is listed in `skipped`.
 */
export function readLegacy(
  ctx: Ctx,
  fetched: FetchedManifest,
  tag: string,
  maxLayers: number,
  concurrency: number,
  kind: 'signature' | 'attestation' = 'signature',
  wanted?: ClaimFilter,
): Promise<LegacyRead> {
  if (fetched.manifest.kind !== 'manifest') {
    const problem = new SigstoreError(
      SigstoreErrorCode.bundleMalformed,
      `the signature tag ${tag} holds an index, not a signature manifest`,
    );
    const location: SignatureLocation = {
      source: 'legacy-tag',
      repository: ctx.repoName,
      manifest: fetched.digest,
      layer: 0,
      tag,
    };
    return Promise.resolve({
      candidates: [{ location, format: 'legacy', problem }],
      ignored: 0,
      truncated: false,
      skipped: [],
    });
  }
  const layers = fetched.manifest.layers.map((layer, index) => ({ layer, index }));
  const mediaType = kind === 'signature' ? SIMPLE_SIGNING_MEDIA_TYPE : DSSE_ENVELOPE_MEDIA_TYPE;
  const signatures = layers.filter(({ layer }) => layer.mediaType === mediaType);
  // Layers skipped for their claim cost nothing: the cap counts the layers read.
  const skipped: string[] = [];
  const readable = signatures.filter(({ layer }) => {
    const claim = kind === 'attestation' ? layer.annotations?.[ANNOTATION.predicateType] : undefined;
    if (wanted === undefined || claim === undefined || wanted(claim)) return true;
    skipped.push(claim);
    return false;
  });
  const examined = readable.slice(0, maxLayers);
  const early =
    kind === 'signature' && ctx.onLegacyBundles !== undefined
      ? examined.map(({ layer }) => earlyLegacyBundle(layer, ctx.maxSignatureBytes))
      : [];
  // What each read keeps while its blob is on the way (a registry round trip, long enough for the
  // young generation to promote what it holds): a layer whose bundle is read already keeps the
  // descriptor's digest and size, not its annotations (the bundle holds what they say), and nothing
  // keeps the manifest (this function is not async: an async one keeps its locals until it returns).
  const manifestDigest = fetched.digest;
  const items = examined.map(({ layer, index }, i): { layer: Descriptor; index: number; bundle?: Bundle } => {
    const bundle = early[i];
    return bundle === undefined ? { layer, index } : { layer: blobDescriptor(layer), index, bundle };
  });
  const reading = mapLimit(items, concurrency, async ({ layer, index, bundle }) => {
    const location: SignatureLocation = {
      source: 'legacy-tag',
      repository: ctx.repoName,
      manifest: manifestDigest,
      layer: index,
      tag,
    };
    const blob = await fetchSignatureBlob(
      ctx,
      layer,
      kind === 'signature' ? ctx.maxSignatureBytes : ctx.maxReferrerBytes,
    );
    // An attestation layer's (unsigned) annotation labels a failure with the type it would have had.
    const annotated = kind === 'attestation' ? layer.annotations?.[ANNOTATION.predicateType] : undefined;
    const labelled = annotated === undefined ? {} : { predicateType: annotated };
    if (blob instanceof SigwardError)
      return { location, format: 'legacy' as const, problem: blob, ...labelled };
    if (kind === 'attestation') {
      try {
        const { bundle } = legacyAttestationToBundle({
          mediaType: layer.mediaType,
          annotations: layer.annotations ?? {},
          blob,
        });
        const claimed = claimedPredicateType(bundle) ?? layer.annotations?.[ANNOTATION.predicateType];
        return {
          location,
          format: 'legacy' as const,
          bundle,
          ...(claimed === undefined ? {} : { predicateType: claimed }),
        };
      } catch (error) {
        return { location, format: 'legacy' as const, problem: asSigwardError(error), ...labelled };
      }
    }
    if (bundle !== undefined) {
      if (sha256Hex(blob) === hexOf(layer.digest))
        return { location, format: 'legacy' as const, bundle, payload: blob };
      // Other bytes than the descriptor names: the same annotations over these bytes.
      const read = legacySignatureOver(bundle, blob);
      return { location, format: 'legacy' as const, bundle: read.bundle, ...optionalPayload(read.payload) };
    }
    try {
      const read = legacySignatureToBundle({
        mediaType: layer.mediaType,
        annotations: layer.annotations ?? {},
        blob,
      });
      return { location, format: 'legacy' as const, bundle: read.bundle, ...optionalPayload(read.payload) };
    } catch (error) {
      return { location, format: 'legacy' as const, problem: asSigwardError(error) };
    }
  });
  // The first blobs are requested by now: what verification does meanwhile waits on no round trip.
  const started = early.filter((bundle) => bundle !== undefined);
  if (started.length > 0) ctx.onLegacyBundles?.(started);
  const ignored = layers.length - signatures.length;
  const truncated = readable.length > examined.length;
  return reading.then((candidates) => ({ candidates, ignored, truncated, skipped }));
}

interface LegacyRead {
  candidates: SignatureCandidate[];
  ignored: number;
  truncated: boolean;
  skipped: string[];
}

/**
 * A legacy signature layer's bundle before its blob is fetched: from its annotations and the SHA-256
 * its descriptor names. Undefined when it cannot be read so early (another digest algorithm, a blob
 * over the cap, annotations legacy.ts refuses): the layer is then read from its blob as before, and
 * its failure told as before.
 */
function earlyLegacyBundle(layer: Descriptor, maxBytes: number): Bundle | undefined {
  const hex = hexOf(layer.digest);
  if (hex === undefined || layer.size > maxBytes) return undefined;
  try {
    return legacySignatureBundle(layer.annotations ?? {}, Buffer.from(hex, 'hex'));
  } catch {
    return undefined;
  }
}

/** The hex of a `sha256:<hex>` digest (lower case, as computed), or undefined for any other. */
function hexOf(digest: string): string | undefined {
  return /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1];
}

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The predicate type a DSSE bundle's statement claims (unverified), if it can be read. */
function claimedPredicateType(bundle: Bundle): string | undefined {
  if (bundle.content.$case !== 'dsseEnvelope') return undefined;
  try {
    const statement: unknown = JSON.parse(Buffer.from(bundle.content.dsseEnvelope.payload).toString('utf8'));
    const value = (statement as { predicateType?: unknown } | null)?.predicateType;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined; // verification will say what is wrong with it
  }
}

function optionalPayload(payload: Uint8Array | undefined): { payload?: Uint8Array } {
  return payload === undefined ? {} : { payload };
}

/**
 * A signature blob under the signature cap. A blob the registry does not have makes that candidate
 * unreadable (returned); any other registry failure throws, since then nothing can be concluded.
 */
function fetchSignatureBlob(
  ctx: Ctx,
  layer: Descriptor,
  maxBytes: number = ctx.maxSignatureBytes,
): Promise<Uint8Array | SigwardError> {
  const key = `${layer.digest} ${layer.size}`;
  let pending = ctx.blobs.get(key);
  if (pending === undefined) {
    pending = fetchBlobOnce(ctx, layer, maxBytes);
    ctx.blobs.set(key, pending);
  }
  return pending;
}

async function fetchBlobOnce(
  ctx: Ctx,
  layer: Descriptor,
  maxBytes: number,
): Promise<Uint8Array | SigwardError> {
  if (layer.size > maxBytes) {
    return new SigstoreError(
      SigstoreErrorCode.bundleMalformed,
      `signature layer ${layer.digest} declares ${layer.size} bytes, over the ${maxBytes}-byte cap`,
    );
  }
  if (ctx.budget !== undefined) {
    if (layer.size > ctx.budget.remaining)
      return new SigstoreError(
        SigstoreErrorCode.bundleMalformed,
        `signature layer ${layer.digest} (${layer.size} bytes) is beyond the bytes one image's signatures and attestations may take together`,
      );
    ctx.budget.remaining -= layer.size;
  }
  try {
    return await ctx.client.getBlob(ctx.repo, layer, {
      maxBytes, // and never past the size it declares (oci/blobs.ts), which is what the budget charged
      ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    });
  } catch (error) {
    if (error instanceof SigwardError && error.code === 'REGISTRY_NOT_FOUND') return error;
    throw error;
  }
}

function asSigwardError(error: unknown): SigwardError {
  if (error instanceof SigwardError) return error;
  return new SigstoreError(SigstoreErrorCode.bundleMalformed, describeError(error), { cause: error });
}
