// The re-check's results as a wgpolicyk8s.io/v1alpha2 PolicyReport: the format Kyverno writes and
// Policy Reporter, kubectl (`kubectl get polr -A`) and other report consumers read. Pure.
//
// One report per namespace, named `sigward-image-verification`, labelled
// app.kubernetes.io/managed-by=sigward (sigward only ever touches reports with that name and label).
// One result per (Pod, image site, policy): policy = the policy's name (`namespace/name` for an
// ImagePolicy, `no-matching-policy` when none matched), rule = the authority the result is about (else
// `verify-image`), result pass | fail (enforce and audit mode) | warn (warn mode) | error (could not
// tell: registry, timeout, trust root) | skip (no policy matched and unmatched images are allowed),
// the Pod in `resources`, and the image, digest, field, mode and reason code as properties. The
// summary counts every result; when the results exceed MAX_RESULTS (a Kubernetes object must stay well
// under etcd's 1.5 MiB) failures are kept first and the report says how many were left out in an
// annotation.
import type { ImageDecision, PolicyResult } from '../policy/decision.ts';
import { ERROR_REASONS, clip, failureMessage } from '../policy/decision.ts';

export const REPORT_API_VERSION = 'wgpolicyk8s.io/v1alpha2';
export const REPORT_NAME = 'sigward-image-verification';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'sigward';
export const REPORT_SOURCE = 'sigward';
export const NO_POLICY = 'no-matching-policy';
export const OMITTED_ANNOTATION = 'sigward.dev/results-omitted';
/** Results kept per report: about 1 kB each, so a report stays far below etcd's object limit. */
export const MAX_RESULTS = 1000;
/** Policy Reporter shows the message in one line of a table; the full text is in the Event. */
const MESSAGE_MAX = 1024;

export type ReportResult = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

/** What the re-check found for one Pod (structurally engine/'s PodRecheck). */
export interface CheckedPod {
  readonly pod: {
    readonly namespace: string;
    readonly name: string;
    readonly uid: string;
    readonly owner?: { readonly kind: string; readonly name: string };
  };
  readonly decisions: readonly ImageDecision[];
  readonly checkedAt: Date;
}

export interface PolicyReportResult {
  readonly source: string;
  readonly policy: string;
  readonly rule: string;
  readonly category: string;
  readonly severity?: 'high' | 'medium' | 'low';
  readonly result: ReportResult;
  readonly scored: boolean;
  readonly message: string;
  readonly timestamp: { readonly seconds: number; readonly nanos: number };
  readonly resources: ReadonlyArray<{
    readonly apiVersion: string;
    readonly kind: string;
    readonly namespace: string;
    readonly name: string;
    readonly uid: string;
  }>;
  readonly properties: Readonly<Record<string, string>>;
}

export interface PolicyReport {
  readonly apiVersion: typeof REPORT_API_VERSION;
  readonly kind: 'PolicyReport';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly resourceVersion?: string;
  };
  readonly scope: { readonly apiVersion: 'v1'; readonly kind: 'Namespace'; readonly name: string };
  readonly summary: Readonly<Record<'pass' | 'fail' | 'warn' | 'error' | 'skip', number>>;
  readonly results: readonly PolicyReportResult[];
}

/**
 * pass; skip when no policy matched and unmatched images are allowed (nothing was checked); for a
 * failed result: error (could not tell), warn (warn mode), fail (enforce, audit).
 */
export function reportResultOf(result: PolicyResult): ReportResult {
  if (result.passed) return result.policy === undefined ? 'skip' : 'pass';
  if (ERROR_REASONS.has(result.reason)) return 'error';
  return result.mode === 'warn' ? 'warn' : 'fail';
}

const isFailure = (r: PolicyReportResult): boolean => r.result !== 'pass' && r.result !== 'skip';

const SEVERITY = { enforce: 'high', warn: 'medium', audit: 'low' } as const;

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The namespace's PolicyReport for these Pods (in a stable order: by Pod, then field, then policy). */
export function buildPolicyReport(namespace: string, pods: readonly CheckedPod[]): PolicyReport {
  const results: PolicyReportResult[] = [];
  // Code-point order: the same on every node and ICU version (and localeCompare maps ~2.7 MiB of ICU).
  const sorted = [...pods].sort((a, b) => byCodePoint(a.pod.name, b.pod.name));
  for (const checked of sorted)
    for (const decision of checked.decisions)
      for (const result of decision.results) results.push(resultOf(checked, decision, result));
  const summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of results) summary[r.result]++;
  // Failures first when some must be left out: they are what a reader of the report looks for.
  const kept =
    results.length <= MAX_RESULTS
      ? results
      : [...results.filter((r) => isFailure(r)), ...results.filter((r) => !isFailure(r))].slice(
          0,
          MAX_RESULTS,
        );
  const omitted = results.length - kept.length;
  return {
    apiVersion: REPORT_API_VERSION,
    kind: 'PolicyReport',
    metadata: {
      name: REPORT_NAME,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
      ...(omitted > 0 ? { annotations: { [OMITTED_ANNOTATION]: String(omitted) } } : {}),
    },
    scope: { apiVersion: 'v1', kind: 'Namespace', name: namespace },
    summary,
    results: kept,
  };
}

function resultOf(checked: CheckedPod, decision: ImageDecision, result: PolicyResult): PolicyReportResult {
  const outcome = reportResultOf(result);
  const { pod } = checked;
  const properties: Record<string, string> = {
    image: clip(decision.image, 512),
    field: clip(decision.field, 200),
    reason: result.reason,
    mode: result.mode,
  };
  if (decision.digest !== undefined) properties['digest'] = decision.digest;
  if (pod.owner !== undefined) properties['controller'] = clip(`${pod.owner.kind}/${pod.owner.name}`, 300);
  const millis = checked.checkedAt.getTime();
  return {
    source: REPORT_SOURCE,
    policy: clip(result.policy ?? NO_POLICY, 253),
    rule: clip(result.authority ?? 'verify-image', 253),
    category: 'Image Signatures',
    ...(outcome === 'pass' || outcome === 'skip' ? {} : { severity: SEVERITY[result.mode] }),
    result: outcome,
    scored: true,
    message: clip(
      outcome === 'pass' || outcome === 'skip'
        ? passMessage(decision, result)
        : failureMessage(decision, result),
      MESSAGE_MAX,
    ),
    timestamp: { seconds: Math.floor(millis / 1000), nanos: (millis % 1000) * 1_000_000 },
    resources: [{ apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid }],
    properties,
  };
}

function passMessage(decision: ImageDecision, result: PolicyResult): string {
  const digest = decision.digest === undefined ? '' : ` (digest ${decision.digest})`;
  const who = result.policy === undefined ? 'no policy matches; unmatched images are allowed' : result.detail;
  return `image ${clip(decision.image, 512)}${digest} in ${clip(decision.field, 200)}: ${who} [${result.reason}]`;
}
