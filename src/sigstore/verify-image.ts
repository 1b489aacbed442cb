// Is this image signed by one of these authorities? Discovers every candidate signature (discover.ts),
// runs each through verifyBundle against the admitted digest (never a referrer's subject), matches the
// proven identity, and returns a verdict that says, per signature, who signed or why it failed. A
// registry failure is a verdict of its own (status `error`, its REGISTRY_* code), never "unsigned".
// A legacy signature's checks that need no payload run while its payload blob is fetched (headStart),
// with the same answer as running them after it.
// Policy stays outside: an authority brings its own identity check (policy/identity.ts in practice).
import type { TrustMaterial } from '@sigstore/verify';
import { SigwardError } from '../errors.ts';
import { referenceIn, repositoryString } from '../oci/index.ts';
import type { Descriptor, FetchedManifest, RegistryClient, RepositoryName } from '../oci/index.ts';
import { discoverSignatures } from './discover.ts';
import { BUNDLE_ANNOTATION } from './layout.ts';
import { mapLimit } from './map-limit.ts';
import { registryFailureVerdict } from './registry-failure.ts';
import type { DiscoverOptions, Discovery } from './discover.ts';
import { decisiveFailure, headStart, verifyCandidate } from './verify-candidate.ts';
import type { Authority, HeadStarts, KeylessResults, SignatureOutcome } from './verify-candidate.ts';

export type {
  Authority,
  IdentityOutcome,
  ProvenSigner,
  SignatureOutcome,
  CandidateContext,
  KeylessResults,
} from './verify-candidate.ts';

/** How an image index and its platform manifests count. */
export type MultiArch =
  /** The admitted digest itself must be signed (default). */
  | { readonly mode: 'digest' }
  /** A signature on this index counts for the admitted digest, if the index lists it. */
  | { readonly mode: 'index-signature'; readonly index: string }
  /** When the admitted digest is an index, every platform manifest it lists must be signed. */
  | { readonly mode: 'every-platform' }
  /** When the admitted digest is an index: its own signature, or else one on every platform manifest. */
  | { readonly mode: 'index-or-every-platform' };

export type VerdictStatus = 'verified' | 'rejected' | 'unsigned' | 'error';

export interface ImageVerdict {
  /** `registry/repository@digest` */
  readonly image: string;
  readonly digest: string;
  readonly status: VerdictStatus;
  /** VERIFIED, NO_SIGNATURES, the deciding failure's code, or the registry's REGISTRY_* code. */
  readonly code: string;
  readonly message: string;
  readonly signatures: readonly SignatureOutcome[];
  readonly referrers?: Discovery['referrers'];
  readonly truncated?: boolean;
  /** every-platform mode: the verdict of each platform manifest. */
  readonly platforms?: readonly (ImageVerdict & { readonly platform: string })[];
  /** index-signature mode, when the admitted digest alone was not enough: the index's verdict. */
  readonly index?: ImageVerdict;
}

export interface VerifyImageInput {
  readonly client: Pick<RegistryClient, 'listReferrers' | 'findManifest' | 'getBlob' | 'getManifest'>;
  readonly image: { readonly repository: RepositoryName; readonly digest: string };
  readonly authorities: readonly Authority[];
  readonly trust: TrustMaterial;
  readonly multiArch?: MultiArch;
  /** Where to look, caps, and the caller's deadline (`signal`, also used for index reads). */
  readonly discovery?: DiscoverOptions;
  /** Also require a legacy payload's docker-reference to name the image repository (cosign does not). */
  readonly checkDockerReference?: boolean;
}

export const VERDICT_CODE = {
  verified: 'VERIFIED',
  noSignatures: 'NO_SIGNATURES',
  indexDoesNotList: 'INDEX_DOES_NOT_LIST_IMAGE',
  platformUnsigned: 'PLATFORM_NOT_SIGNED',
  /** Every-platform rules on an index with nothing runnable: nothing was checked, so nothing verified. */
  indexWithoutPlatforms: 'INDEX_WITHOUT_PLATFORMS',
} as const;

/** What one image's verifications share: each digest discovered once, each index read once. */
interface Shared {
  readonly discoveries: Map<string, Promise<Discovery>>;
  readonly manifests: Map<string, Promise<FetchedManifest>>;
  readonly keylessResults: KeylessResults;
  readonly headStarts: HeadStarts;
}

const newShared = (): Shared => ({
  discoveries: new Map(),
  manifests: new Map(),
  keylessResults: new WeakMap(),
  headStarts: new WeakMap(),
});

function memo<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let pending = cache.get(key);
  if (pending === undefined) {
    pending = make();
    cache.set(key, pending);
  }
  return pending;
}

/** Verifies one image; resolves to a verdict (registry failures included), throws only on bugs. */
export function verifyImage(input: VerifyImageInput): Promise<ImageVerdict> {
  return verifyWith(input, newShared());
}

/**
 * One verdict per authority (by name), as if verifyImage ran once for each, for policies that count
 * DISTINCT authorities (a threshold): signatures are discovered and fetched once, and each keyless
 * signature's cryptography runs once; only the identity checks run per authority.
 */
export async function verifyImageForEach(
  input: VerifyImageInput,
): Promise<ReadonlyMap<string, ImageVerdict>> {
  const shared = newShared();
  const verdicts = new Map<string, ImageVerdict>();
  for (const authority of input.authorities) {
    verdicts.set(authority.name, await verifyWith({ ...input, authorities: [authority] }, shared));
  }
  return verdicts;
}

async function verifyWith(input: VerifyImageInput, shared: Shared): Promise<ImageVerdict> {
  if (input.authorities.length === 0) throw new SigwardError('VERIFY_NO_AUTHORITY', 'no authority given');
  const mode = input.multiArch ?? { mode: 'digest' };
  const own = await verifyDigest(input, shared, input.image.digest);
  if (mode.mode === 'digest') return own;
  if (mode.mode === 'index-signature') return viaIndex(input, shared, own, mode.index);
  if (mode.mode === 'index-or-every-platform' && own.status === 'verified') return own;
  return everyPlatform(input, shared, own, mode.mode === 'index-or-every-platform');
}

function readManifest(input: VerifyImageInput, shared: Shared, digest: string): Promise<FetchedManifest> {
  return memo(shared.manifests, digest, () =>
    input.client.getManifest(referenceIn(input.image.repository, digest), input.discovery?.signal),
  );
}

async function verifyDigest(input: VerifyImageInput, shared: Shared, digest: string): Promise<ImageVerdict> {
  const image = `${repositoryString(input.image.repository)}@${digest}`;
  const context = {
    authorities: input.authorities,
    trust: input.trust,
    keylessResults: shared.keylessResults,
    headStarts: shared.headStarts,
    ...(input.checkDockerReference === true ? { dockerReference: input.image.repository } : {}),
  };
  let discovery: Discovery;
  try {
    // A legacy signature's checks that need no payload run while the payload is fetched.
    discovery = await memo(shared.discoveries, digest, () =>
      discoverSignatures(
        input.client,
        { repository: input.image.repository, digest },
        input.discovery,
        (bundles) => headStart(context, bundles, digest),
      ),
    );
  } catch (error) {
    return registryVerdict(error, image, digest, 'looking for its signatures');
  }
  const signatures = discovery.candidates.map((c) => verifyCandidate(context, c, digest));
  const referrers =
    discovery.referrers === 'referrers-api'
      ? 'the referrers API'
      : 'the referrers fallback tag (the registry has no referrers API)';
  const where = `${referrers} and the legacy .sig tag, in ${discovery.signatureRepository}`;
  const common = {
    image,
    digest,
    signatures,
    referrers: discovery.referrers,
    truncated: discovery.truncated,
  };
  const verified = signatures.filter((s) => s.verified);
  if (verified.length > 0) {
    return {
      ...common,
      status: 'verified',
      code: VERDICT_CODE.verified,
      message: `${verified.length} of ${signatures.length} signature(s) verified`,
    };
  }
  const cap = discovery.truncated ? ' (more signatures were listed than examined)' : '';
  // Claimed ones were never downloaded: a signature falsely labelled as an attestation hides here.
  const claimed =
    discovery.claimedAttestations === 0
      ? ''
      : ` (${discovery.claimedAttestations} claimed by their referrer's ${BUNDLE_ANNOTATION.predicateType} annotation, not downloaded)`;
  const attestations =
    discovery.attestations === 0
      ? ''
      : `; ${discovery.attestations} attestation(s) of other predicate types are not image signatures${claimed}`;
  if (signatures.length === 0) {
    return {
      ...common,
      status: 'unsigned',
      code: VERDICT_CODE.noSignatures,
      message: `no signatures found (looked in ${where})${cap}${attestations}`,
    };
  }
  const decisive = decisiveFailure(signatures.flatMap((s) => (s.verified ? [] : [s])));
  return {
    ...common,
    status: 'rejected',
    code: decisive.code,
    message: `none of ${signatures.length} signature(s) is valid: ${decisive.reason}${cap}`,
  };
}

function registryVerdict(error: unknown, image: string, digest: string, doing: string): ImageVerdict {
  return { ...registryFailureVerdict(error, image, digest, doing, 'whether it is signed'), signatures: [] };
}

async function viaIndex(
  input: VerifyImageInput,
  shared: Shared,
  own: ImageVerdict,
  indexDigest: string,
): Promise<ImageVerdict> {
  if (own.status === 'verified' || own.status === 'error') return own;
  const image = `${repositoryString(input.image.repository)}@${indexDigest}`;
  let manifests: readonly Descriptor[] | undefined;
  try {
    const fetched = await readManifest(input, shared, indexDigest);
    manifests = fetched.manifest.kind === 'index' ? fetched.manifest.manifests : undefined;
  } catch (error) {
    return {
      ...registryVerdict(error, image, indexDigest, 'reading the index'),
      digest: own.digest,
      image: own.image,
    };
  }
  if (manifests?.some((m) => m.digest === own.digest) !== true) {
    const why =
      manifests === undefined
        ? `${indexDigest} is an image manifest, not an index`
        : `the index ${indexDigest} does not list ${own.digest}`;
    return {
      ...own,
      status: 'rejected',
      code: VERDICT_CODE.indexDoesNotList,
      message: `${own.message}; and ${why}, so its signatures cannot count`,
    };
  }
  const index = await verifyDigest(input, shared, indexDigest);
  if (index.status === 'verified') {
    return {
      ...own,
      status: 'verified',
      code: VERDICT_CODE.verified,
      message: `signed through the index ${indexDigest} that lists it: ${index.message}`,
      index,
    };
  }
  return index.status === 'error'
    ? { ...own, status: 'error', code: index.code, message: index.message, index }
    : { ...own, message: `${own.message}; the index ${indexDigest}: ${index.message}`, index };
}

async function everyPlatform(
  input: VerifyImageInput,
  shared: Shared,
  own: ImageVerdict,
  indexWasEnough: boolean,
): Promise<ImageVerdict> {
  if (own.status === 'error') return own;
  let manifests: readonly Descriptor[];
  try {
    const fetched = await readManifest(input, shared, own.digest);
    if (fetched.manifest.kind !== 'index') return own;
    manifests = fetched.manifest.manifests;
  } catch (error) {
    return registryVerdict(error, own.image, own.digest, 'reading the image index');
  }
  // Attestation manifests of BuildKit (platform unknown/unknown) are not runnable platforms.
  const runnable = manifests.filter((m) => m.platform === undefined || m.platform.os !== 'unknown');
  if (runnable.length === 0) {
    // Nothing to check is not "every platform checked": an index nobody can run is never verified.
    const listed =
      manifests.length === 0
        ? 'lists no manifests'
        : `lists only ${manifests.length} manifest(s) of platform unknown/unknown (attestations)`;
    return {
      ...own,
      status: 'rejected',
      code: VERDICT_CODE.indexWithoutPlatforms,
      message: `${indexWasEnough ? `the index is not signed (${own.message}), and it ` : 'the index '}${listed}: no runnable platform whose signature could be checked`,
      platforms: [],
    };
  }
  const platforms = await mapLimit(runnable, 4, async (m) => ({
    ...(await verifyDigest(input, shared, m.digest)),
    platform: platformName(m),
  }));
  const failed =
    platforms.find((p) => p.status === 'error') ?? platforms.find((p) => p.status !== 'verified');
  if (failed === undefined) {
    return {
      ...own,
      status: 'verified',
      code: VERDICT_CODE.verified,
      message: `every platform manifest (${platforms.length}) is signed`,
      platforms,
    };
  }
  return {
    ...own,
    status: failed.status === 'error' ? 'error' : 'rejected',
    code: failed.status === 'unsigned' ? VERDICT_CODE.platformUnsigned : failed.code,
    message: `${indexWasEnough ? `the index is not signed (${own.message}), and ` : ''}platform ${failed.platform} (${failed.digest}): ${failed.message}`,
    platforms,
  };
}

function platformName(descriptor: Descriptor): string {
  const p = descriptor.platform;
  if (p === undefined) return 'unknown';
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined).join('/');
}
