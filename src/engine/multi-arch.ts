// How a policy's `multiArch` rule applies to one admitted digest, as sigstore/verify-image's MultiArch
// plus the index digest the verdict relies on (part of the verdict cache key, so a tag moved to
// another index is verified again).
//
// `index`: the kubelet runs the digest the workload names; a signature on an index counts for it only
// if the index lists it. Which index? The one the workload's own tag names (`repo:v1@sha256:<platform>`),
// resolved now. A bare tag already resolved to what it names (an index's own signature is the
// digest's), and a bare digest names no index at all: the denial says so.
import { SigwardError, describeError } from '../errors.ts';
import { formatReference } from '../oci/index.ts';
import type { ImageReference } from '../oci/index.ts';
import type { MultiArchRule } from '../policy/types.ts';
import type { ImageVerdict, MultiArch } from '../sigstore/verify-image.ts';

export interface MultiArchPlan {
  readonly multiArch: MultiArch;
  /** The index digest relied on, '' when none: part of the verdict cache key. */
  readonly index: string;
  /** Why no index signature could count, told with a verdict that did not verify on its own. */
  readonly noIndex?: string;
  /** The tag could not be resolved (registry trouble): an unsigned digest is then an error, not a refusal. */
  readonly lookupFailure?: { readonly code: string; readonly message: string };
}

/**
 * The plan for `rule` on `digest`, admitted as `reference`. `resolveTag` resolves the reference's tag
 * (without its digest) with the workload's credentials; it is called only for `index` with tag and digest.
 */
export async function planMultiArch(
  rule: MultiArchRule,
  reference: ImageReference,
  digest: string,
  resolveTag: () => Promise<string>,
): Promise<MultiArchPlan> {
  const known = planWithoutLookup(rule, reference);
  if (known !== undefined) return known;
  const own: MultiArch = { mode: 'digest' };
  const tagged = formatReference({ ...reference, digest: undefined });
  let index: string;
  try {
    index = await resolveTag();
  } catch (error) {
    const code = error instanceof SigwardError ? error.code : 'INTERNAL_ERROR';
    if (code === 'REGISTRY_NOT_FOUND')
      return {
        multiArch: own,
        index: '',
        noIndex: `multiArch index: the tag ${tagged} does not exist, so there is no index whose signature could count`,
      };
    return {
      multiArch: own,
      index: '',
      lookupFailure: {
        code,
        message: `multiArch index: could not resolve ${tagged} to find its index, so whether an index signature covers this digest is unknown: ${describeError(error)}`,
      },
    };
  }
  if (index === digest) return { multiArch: own, index: '' };
  return { multiArch: { mode: 'index-signature', index }, index };
}

const DIGEST_PLAN: MultiArchPlan = { multiArch: { mode: 'digest' }, index: '' };
const EVERY_PLATFORM_PLAN: MultiArchPlan = { multiArch: { mode: 'every-platform' }, index: '' };

/**
 * The plan when it needs no registry lookup (every rule but `index` on `repo:tag@digest`), else
 * undefined: the cache-hit path answers from it without awaiting anything.
 */
export function planWithoutLookup(rule: MultiArchRule, reference: ImageReference): MultiArchPlan | undefined {
  if (rule === 'all-platforms') return EVERY_PLATFORM_PLAN;
  if (rule === 'digest' || reference.digest === undefined) return DIGEST_PLAN;
  if (reference.tag === undefined) {
    return {
      multiArch: { mode: 'digest' },
      index: '',
      noIndex: `multiArch index: ${formatReference(reference)} names no tag, so there is no index to find whose signature could count (name it as repository:tag@digest)`,
    };
  }
  return undefined;
}

/** The verdict as the plan tells it: a digest that did not verify says why no index could count. */
export function withPlan<V extends Pick<ImageVerdict, 'status' | 'code' | 'message'>>(
  verdict: V,
  plan: MultiArchPlan,
): V {
  if (verdict.status === 'verified' || verdict.status === 'error') return verdict;
  if (plan.lookupFailure !== undefined)
    return {
      ...verdict,
      status: 'error',
      code: plan.lookupFailure.code,
      message: `${verdict.message}; ${plan.lookupFailure.message}`,
    };
  if (plan.noIndex !== undefined) return { ...verdict, message: `${verdict.message}; ${plan.noIndex}` };
  return verdict;
}
