// What the continuous re-check verifies for one running Pod: the admission skip rules and image sites
// of a Pod CREATE (so a namespace admission skips is not re-checked either, and the field paths are the
// ones admission names), with each container's image pinned to the digest it actually runs when the
// Pod's status says so. Pure.
//
// status.*ContainerStatuses[].imageID is the kubelet's report of what runs: with containerd and
// CRI-O it is `repository@sha256:<manifest or index digest>` (Docker's dockershim wrote
// `docker-pullable://repository@sha256:…`). A bare `sha256:…` is the image *config* digest on some
// runtimes, not a manifest digest a registry serves: it is ignored and the spec's image is verified
// (its tag resolved, as in admission).
import { planReview } from '../admission/skip.ts';
import type { SkipSettings } from '../admission/skip.ts';
import type { AdmissionRequest, KubeObject } from '../admission/review.ts';
import type { ImageSite } from '../admission/sites.ts';
import { parseReference, repositoryString } from '../oci/index.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import { matchingPolicies } from '../policy/match.ts';
import { workloadOf } from './review.ts';
import type { WorkloadIdentity } from './ports.ts';

/** A Pod that exists in the cluster (structurally kube/'s PodView). */
export interface RunningPod {
  /** `namespace/name` */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** The Pod's controller (ReplicaSet, Job, …), when it has one: kube/ works it out. */
  readonly owner?: { readonly kind: string; readonly name: string };
  /** The Pod as JSON: metadata, spec and status (kube/running-pods.ts keeps only what is read). */
  readonly object: Readonly<Record<string, unknown>>;
}

export interface RecheckSite {
  /** `spec.containers[0].image` */
  readonly field: string;
  /** As written in the Pod. */
  readonly image: string;
  /** What is verified: the image pinned to the running digest when status reports one. */
  readonly verify: string;
  /** The digest status reported (undefined: none usable; the spec's image is resolved). */
  readonly runningDigest?: string;
}

export type RecheckPlan =
  | { readonly skip: string }
  | {
      readonly skip?: undefined;
      readonly sites: readonly RecheckSite[];
      readonly workload: WorkloadIdentity;
    };

const DIGEST_IN_IMAGE_ID = /@(sha256:[a-f0-9]{64})$/;

/** The manifest digest in an imageID (`…@sha256:<hex>`), or undefined. */
export function runningDigest(imageID: string): string | undefined {
  return DIGEST_IN_IMAGE_ID.exec(imageID)?.[1];
}

/** The image with its digest replaced by (or pinned to) `digest`, its tag kept (multiArch: index). */
export function pinnedTo(image: string, digest: string): string {
  const at = image.indexOf('@');
  return `${at === -1 ? image : image.slice(0, at)}@${digest}`;
}

/** The sites to verify for this Pod, or why it is skipped (the admission skip rules' reason). */
export function recheckPlan(
  pod: RunningPod,
  skip: SkipSettings,
  namespaceLabels?: Readonly<Record<string, string>>,
): RecheckPlan {
  const request: AdmissionRequest = {
    uid: pod.uid === '' ? 'recheck' : pod.uid,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: pod.namespace,
    name: pod.name,
    operation: 'CREATE',
    userInfo: {},
    object: pod.object as KubeObject,
  };
  let plan: ReturnType<typeof planReview>;
  try {
    plan = planReview(request, skip, namespaceLabels);
  } catch (error) {
    // The apiserver stored it, so this is a Pod sigward cannot read (e.g. over MAX_IMAGE_SITES).
    return { skip: `not readable: ${(error as Error).message}` };
  }
  if (plan.skip !== undefined) return { skip: plan.skip.reason };
  const digests = statusDigests(pod.object);
  return {
    sites: plan.sites.map((site) => siteOf(site, digests)),
    workload: workloadOf(request, pod.namespace),
  };
}

function siteOf(site: ImageSite, digests: ReadonlyMap<string, string>): RecheckSite {
  const digest =
    site.kind === 'imageVolume' || site.name === undefined
      ? undefined
      : digests.get(`${site.kind}/${site.name}`);
  if (digest === undefined) return { field: site.field, image: site.image, verify: site.image };
  return {
    field: site.field,
    image: site.image,
    verify: pinnedTo(site.image, digest),
    runningDigest: digest,
  };
}

/** `container/<name>` (and initContainer/, ephemeralContainer/) → the digest its status reports. */
function statusDigests(pod: Readonly<Record<string, unknown>>): Map<string, string> {
  const out = new Map<string, string>();
  const status = pod['status'];
  if (typeof status !== 'object' || status === null) return out;
  for (const [key, kind] of [
    ['containerStatuses', 'container'],
    ['initContainerStatuses', 'initContainer'],
    ['ephemeralContainerStatuses', 'ephemeralContainer'],
  ] as const) {
    const list = (status as Record<string, unknown>)[key];
    if (!Array.isArray(list)) continue;
    for (const s of list as unknown[]) {
      if (typeof s !== 'object' || s === null) continue;
      const { name, imageID } = s as { name?: unknown; imageID?: unknown };
      if (typeof name !== 'string' || typeof imageID !== 'string') continue;
      const digest = runningDigest(imageID);
      if (digest !== undefined) out.set(`${kind}/${name}`, digest);
    }
  }
  return out;
}

/**
 * What makes two sites the same decision within a round: the repository and digest that run (the tag
 * too where a policy finds the index through it, `multiArch: index`, or when no digest is known) and
 * the policies matching it there. The same digest in two namespaces under the same ClusterImagePolicy
 * is one decision; an ImagePolicy names its namespace, so its decisions are never shared across them.
 */
export function decisionKey(
  site: Pick<RecheckSite, 'verify'>,
  namespace: string,
  policies: readonly CompiledPolicy[],
): string {
  try {
    const reference = parseReference(site.verify);
    const matched = matchingPolicies(policies, reference, namespace);
    const byTag = reference.digest === undefined || matched.some((p) => p.multiArch === 'index');
    const tag = byTag ? `:${reference.tag ?? 'latest'}` : '';
    const names = matched.map((p) => `${p.kind}/${p.displayName}`).sort();
    return `${repositoryString(reference)}${tag}@${reference.digest ?? ''}|${names.join(',')}`;
  } catch {
    return `unparsable|${namespace}|${site.verify}`; // refused per namespace, never shared
  }
}
