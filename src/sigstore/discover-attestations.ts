// Every candidate attestation of one image digest, reading only what can hold one:
//  - Sigstore bundle referrers (the referrers API, filtered by the bundle artifactType, and the fallback
//    tag: the same listing as signatures, discover.ts), whose statement has another predicate type than
//    an image signature's (`cosign attest`, `sigward attest`);
//  - cosign's legacy tag `sha256-<hex>.att`, one DSSE envelope per layer.
// The legacy `.sig` tag is never read. Where the storage claims a predicate type without a download
// (a referrer's `dev.sigstore.bundle.predicateType` annotation in the index entry or its manifest, a
// `.att` layer's `predicateType` annotation; cosign and sigward write both), an attestation claiming a
// type nobody asked for, or an image signature's, is not downloaded. A claim is unsigned: it can only
// make discovery skip (a false one hides an attestation, so the policy denies), never admit; the type
// of what is read is checked from the verified statement (verify-candidate.ts).
// No attestations found is a value; a registry failure throws its REGISTRY_* error.
import type { RepositoryName } from '../oci/index.ts';
import { referenceIn } from '../oci/index.ts';
import {
  DISCOVERY_DEFAULTS,
  discoveryContext,
  listBundleReferrers,
  readLegacy,
  readReferrer,
  skipClaimed,
} from './discover.ts';
import type { ClaimFilter, DiscoverOptions, SignatureCandidate, SignatureRegistry } from './discover.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, legacyTag } from './layout.ts';
import { mapLimit } from './map-limit.ts';

export interface AttestationDiscoverOptions extends DiscoverOptions {
  /** Predicate types wanted; attestations claiming others are not downloaded. Default: every type. */
  readonly predicateTypes?: readonly string[];
  /** Largest attestation blob fetched (SBOMs are big). Default 4 MiB. */
  readonly maxAttestationBytes?: number;
  /** All blobs of one discovery together, so a registry listing many big ones is bounded. Default 16 MiB. */
  readonly maxTotalAttestationBytes?: number;
}

export interface AttestationDiscovery {
  /** `registry/repository` where attestations were looked for. */
  readonly signatureRepository: string;
  readonly digest: string;
  /** Attestations read, each with the predicate type its statement claims (verification checks it). */
  readonly candidates: readonly SignatureCandidate[];
  /** The claimed predicate types of attestations not downloaded, one entry per attestation. */
  readonly skipped: readonly string[];
  /** How referrers were listed: the API, or the fallback tag because the registry has no API. */
  readonly referrers: 'referrers-api' | 'fallback-tag';
  /** More referrers or layers than the caps: those beyond them were not examined. */
  readonly truncated: boolean;
}

/** Finds the candidate attestations of `digest`; throws the registry's SigwardError if it cannot look. */
export async function discoverAttestations(
  client: SignatureRegistry,
  image: { readonly repository: RepositoryName; readonly digest: string },
  options: AttestationDiscoverOptions = {},
): Promise<AttestationDiscovery> {
  const maxReferrers = options.maxReferrers ?? DISCOVERY_DEFAULTS.maxReferrers;
  const maxLayers = options.maxLayers ?? DISCOVERY_DEFAULTS.maxLayers;
  const concurrency = options.concurrency ?? DISCOVERY_DEFAULTS.concurrency;
  const ctx = discoveryContext(client, image, options, {
    maxReferrerBytes: options.maxAttestationBytes ?? DISCOVERY_DEFAULTS.maxAttestationBytes,
    totalBytes: options.maxTotalAttestationBytes ?? DISCOVERY_DEFAULTS.maxTotalAttestationBytes,
  });
  const wantedTypes = options.predicateTypes === undefined ? undefined : new Set(options.predicateTypes);
  // An image signature is never an attestation; any other claim counts when it is wanted.
  const wanted: ClaimFilter = (claim) =>
    claim !== COSIGN_SIGN_PREDICATE_TYPE && (wantedTypes === undefined || wantedTypes.has(claim));
  const tagName = legacyTag(image.digest, 'attestation');

  const [listing, legacy] = await Promise.all([
    listBundleReferrers(ctx, image.digest),
    client.findManifest(referenceIn(ctx.repo, tagName), options.signal),
  ]);
  // Entries whose index entry already claims another type are skipped before the cap: they cost nothing.
  const { readable, skipped } = skipClaimed(listing.listed, wanted);
  const [referrerResults, legacyRead] = await Promise.all([
    mapLimit(readable.slice(0, maxReferrers), concurrency, (entry) => readReferrer(ctx, entry, wanted)),
    legacy === undefined
      ? undefined
      : readLegacy(ctx, legacy, tagName, maxLayers, concurrency, 'attestation', wanted),
  ]);

  const candidates: SignatureCandidate[] = [];
  for (const result of referrerResults) {
    if ('attestation' in result) candidates.push(result.attestation);
    else if ('skipped' in result) skipped.push(result.skipped);
    // else an image signature, or not a bundle: not an attestation
  }
  if (legacyRead !== undefined) {
    candidates.push(...legacyRead.candidates);
    skipped.push(...legacyRead.skipped);
  }
  return {
    signatureRepository: ctx.repoName,
    digest: image.digest,
    candidates,
    skipped: skipped.filter((claim) => claim !== COSIGN_SIGN_PREDICATE_TYPE),
    referrers: listing.referrers,
    truncated: readable.length > maxReferrers || (legacyRead?.truncated ?? false),
  };
}
