// Should this request be checked at all? An ordered list of small rules, cheapest first, each
// returning the reason it skips (pepr's filter). Pure.
//
//   planReview(request, settings, namespaceLabels?) → { skip: { rule, reason } }
//                                                    | { sites, dryRun, notes }   (the sites to verify)
//   SKIP_RULES                                       the rules in order, for docs and tests
//
// Order: 1 operation (DELETE, CONNECT) · 2 resource not handled (and subresources other than
// pods/ephemeralcontainers) · 3 kube-system and sigward's own namespace (always) · 4 the namespace's
// opt-out label `sigward.dev/exclude=true`, or in opt-in scope a namespace without
// `sigward.dev/include=true` · 5 no image in the object · 6 an UPDATE that changes no image (only the
// images that changed are checked). Dry-run requests are checked like any other, and noted.
// imageSites() may throw SigwardError (hostile object): that is an error reply, never a skip.
import type { AdmissionRequest } from './review.ts';
import { changedSites, imageSites, podSpecPath, podSpecSites } from './sites.ts';
import type { ImageSite } from './sites.ts';

export const EXCLUDE_LABEL = 'sigward.dev/exclude';
export const INCLUDE_LABEL = 'sigward.dev/include';
export const ALWAYS_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system'];

export interface SkipSettings {
  /** sigward's own namespace: never checked (it must be able to start itself). */
  readonly ownNamespace: string;
  /** opt-out: every namespace unless labelled EXCLUDE_LABEL=true; opt-in: only INCLUDE_LABEL=true. */
  readonly scope: 'opt-out' | 'opt-in';
  /** More namespaces never checked. */
  readonly excludedNamespaces?: readonly string[];
  readonly maxSites?: number;
}

export type SkipRule =
  'operation' | 'resource' | 'system-namespace' | 'namespace-label' | 'no-images' | 'no-image-change';

export const SKIP_RULES: readonly SkipRule[] = [
  'operation',
  'resource',
  'system-namespace',
  'namespace-label',
  'no-images',
  'no-image-change',
];

export interface Skip {
  readonly rule: SkipRule;
  readonly reason: string;
}

export type ReviewPlan =
  | { readonly skip: Skip }
  | {
      readonly skip?: undefined;
      readonly sites: readonly ImageSite[];
      /** The pod spec the sites were read from (its service account and pull secrets). */
      readonly spec: Readonly<Record<string, unknown>> | undefined;
      readonly dryRun: boolean;
      readonly notes: readonly string[];
    };

const NO_NOTES: readonly string[] = Object.freeze([]);

const skip = (rule: SkipRule, reason: string): ReviewPlan => ({ skip: { rule, reason } });

function namespaceOf(request: AdmissionRequest): string | undefined {
  return request.namespace ?? request.object?.metadata?.namespace;
}

/**
 * Runs the skip rules in order. `namespaceLabels` are the labels of the request's namespace when
 * known (kube/'s informer); unknown labels never skip in opt-in scope' favour: the request is checked.
 */
export function planReview(
  request: AdmissionRequest,
  settings: SkipSettings,
  namespaceLabels?: Readonly<Record<string, string>>,
): ReviewPlan {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE')
    return skip('operation', `${request.operation} brings no new image`);

  if (podSpecPath(request.resource, request.subResource) === undefined) {
    const resource = `${request.resource.group === '' ? '' : `${request.resource.group}/`}${request.resource.resource}`;
    const sub =
      request.subResource === undefined || request.subResource === '' ? '' : `/${request.subResource}`;
    return skip('resource', `${resource}${sub} is not a resource sigward checks`);
  }

  const namespace = namespaceOf(request);
  if (namespace !== undefined) {
    if (namespace === settings.ownNamespace)
      return skip('system-namespace', `${namespace} is sigward's own namespace`);
    if (
      ALWAYS_EXCLUDED_NAMESPACES.includes(namespace) ||
      settings.excludedNamespaces?.includes(namespace) === true
    )
      return skip('system-namespace', `namespace ${namespace} is excluded`);
  }

  let notes: string[] | undefined; // most reviews have none: no list made for them
  if (namespaceLabels !== undefined) {
    if (namespaceLabels[EXCLUDE_LABEL] === 'true')
      return skip('namespace-label', `namespace ${namespace ?? ''} is labelled ${EXCLUDE_LABEL}=true`);
    if (settings.scope === 'opt-in' && namespaceLabels[INCLUDE_LABEL] !== 'true')
      return skip(
        'namespace-label',
        `namespace ${namespace ?? ''} is not labelled ${INCLUDE_LABEL}=true (opt-in scope)`,
      );
  } else if (settings.scope === 'opt-in') {
    (notes ??= []).push('namespace labels unknown: checked (opt-in scope fails closed)');
  }

  const { spec, sites } = podSpecSites(request, request.object, settings)!;
  if (sites.length === 0) return skip('no-images', 'the object names no image');

  let toCheck: readonly ImageSite[] = sites;
  if (request.operation === 'UPDATE') {
    let oldSites: ImageSite[];
    try {
      oldSites = imageSites(request, request.oldObject, settings);
    } catch {
      oldSites = []; // an unreadable old object: every image counts as new
    }
    toCheck = changedSites(sites, oldSites);
    if (toCheck.length === 0) return skip('no-image-change', 'the update changes no image');
  }
  if (request.dryRun === true) (notes ??= []).push('dry run: checked, nothing is persisted');
  return { sites: toCheck, spec, dryRun: request.dryRun === true, notes: notes ?? NO_NOTES };
}
