// Which in-toto attestations of these predicate types does this image carry, and who signed each?
// Discovers attestation bundles (referrers API, referrers fallback tag, legacy `.att` tag:
// discover-attestations.ts, which downloads none whose storage claims an unwanted type), and runs each
// one of a wanted predicate type through verifyCandidate with its claimed type required:
// the DSSE signature, the certificate and log, the statement's subject naming the ADMITTED digest and
// its predicate type are all checked before anyone reads the predicate. No policy: the conditions on
// the predicate run in policy/ afterwards. A registry failure is a verdict (status `error`).
import type { TrustMaterial } from '@sigstore/verify';
import { repositoryString } from '../oci/index.ts';
import type { RegistryClient, RepositoryName } from '../oci/index.ts';
import { discoverAttestations } from './discover-attestations.ts';
import type { AttestationDiscovery } from './discover-attestations.ts';
import { registryFailureVerdict } from './registry-failure.ts';
import type { DiscoverOptions, SignatureLocation } from './discover.ts';
import { verifyCandidate } from './verify-candidate.ts';
import type { Authority, KeylessResults, SignatureOutcome } from './verify-candidate.ts';

export interface VerifyAttestationsInput {
  readonly client: Pick<RegistryClient, 'listReferrers' | 'findManifest' | 'getBlob'>;
  readonly image: { readonly repository: RepositoryName; readonly digest: string };
  readonly authorities: readonly Authority[];
  readonly trust: TrustMaterial;
  /** Predicate type URIs wanted; attestations claiming other types are only counted. */
  readonly predicateTypes: readonly string[];
  readonly discovery?: DiscoverOptions;
}

/** One attestation of a wanted type (or an unreadable one), and what verification said. */
export interface AttestationOutcome {
  readonly location: SignatureLocation;
  /** The type it claims; undefined when it could not be read at all. */
  readonly predicateType: string | undefined;
  readonly outcome: SignatureOutcome;
}

export interface AttestationVerdict {
  /** `registry/repository@digest` */
  readonly image: string;
  readonly digest: string;
  /** `checked`: discovery worked (whatever was found); `error`: the registry failed. */
  readonly status: 'checked' | 'error';
  /** CHECKED, or the registry's REGISTRY_* code. */
  readonly code: string;
  readonly message: string;
  readonly attestations: readonly AttestationOutcome[];
  /** Attestations of other predicate types: how many of each (at most 8 types listed). */
  readonly otherTypes: Readonly<Record<string, number>>;
  /** Where it looked, in words, for a denial saying nothing was found. */
  readonly lookedIn: string;
  readonly truncated: boolean;
}

/** Discovers and verifies the attestations of one digest; resolves to a verdict, throws only on bugs. */
export async function verifyAttestations(
  input: VerifyAttestationsInput,
  keylessResults: KeylessResults = new WeakMap(),
): Promise<AttestationVerdict> {
  const digest = input.image.digest;
  const image = `${repositoryString(input.image.repository)}@${digest}`;
  let discovery: AttestationDiscovery;
  try {
    discovery = await discoverAttestations(
      input.client,
      { repository: input.image.repository, digest },
      { ...input.discovery, predicateTypes: input.predicateTypes },
    );
  } catch (error) {
    return {
      ...registryFailureVerdict(error, image, digest, 'looking for its attestations', 'whether it has them'),
      attestations: [],
      otherTypes: {},
      lookedIn: '',
      truncated: false,
    };
  }
  const wanted = new Set(input.predicateTypes);
  const attestations: AttestationOutcome[] = [];
  const otherTypes: Record<string, number> = {};
  const countOther = (type: string): void => {
    if (Object.hasOwn(otherTypes, type) || Object.keys(otherTypes).length < 8)
      otherTypes[type] = (otherTypes[type] ?? 0) + 1;
  };
  // Not downloaded: what their storage claims is all there is to say about them.
  discovery.skipped.forEach(countOther);
  for (const candidate of discovery.candidates) {
    const type = candidate.predicateType;
    if (type !== undefined && !wanted.has(type)) {
      countOther(type);
      continue;
    }
    const outcome = verifyCandidate(
      {
        authorities: input.authorities,
        trust: input.trust,
        keylessResults,
        ...(type === undefined ? {} : { predicateType: type }),
      },
      candidate,
      digest,
    );
    attestations.push({ location: candidate.location, predicateType: type, outcome });
  }
  const referrers =
    discovery.referrers === 'referrers-api'
      ? 'the referrers API'
      : 'the referrers fallback tag (the registry has no referrers API)';
  return {
    image,
    digest,
    status: 'checked',
    code: 'CHECKED',
    message: `${attestations.length} attestation(s) of the wanted types found`,
    attestations,
    otherTypes,
    lookedIn: `${referrers} and the legacy .att tag, in ${discovery.signatureRepository}`,
    truncated: discovery.truncated,
  };
}
