// Metric definitions. Every label has a bounded set of values: decisions, kinds and routes are enums,
// policy and authority names come from cluster objects (bounded by what an operator writes), reasons
// are reason codes, registry statuses are HTTP statuses and registry errors are error codes (two
// series, never mixed in one label), registry hosts are capped at REGISTRY_LABEL_LIMIT. Never an image
// name or digest. Node's default metrics keep their standard names (process_*, nodejs_*), so stock
// dashboards and alerts find them. Each Metrics owns its own prom-client Registry, so two apps in one
// process (tests) never collide.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundHistogram, boundCounter } from './bound-metrics.ts';

/** Seconds; the apiserver gives a webhook at most 30 s, so the buckets reach that far. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 25, 30];

/**
 * The `decision` label of sigward_admissions_total: allow, warn, audit, deny (a policy refused),
 * skip (not checked: skip rules), pin (/mutate pinned a digest), error-allow (verification could not
 * finish and failureOutcome allow admitted it), error-deny (could not finish, or an internal error:
 * refused), invalid (not an AdmissionReview sigward can judge: a malformed body or request).
 */
export const ADMISSION_DECISIONS = [
  'allow',
  'warn',
  'audit',
  'deny',
  'skip',
  'pin',
  'error-allow',
  'error-deny',
  'invalid',
] as const;
export type AdmissionDecision = (typeof ADMISSION_DECISIONS)[number];

/** Distinct registry hosts labelled before the rest count as `other` (workloads choose hosts). */
export const REGISTRY_LABEL_LIMIT = 64;

/** One HTTP exchange with a registry (structurally oci's Exchange). */
export interface RegistryExchange {
  readonly host: string;
  readonly method: string;
  /** The HTTP status, or the error code when no response came (REGISTRY_TIMEOUT, …). */
  readonly outcome: number | string;
}

export interface Metrics {
  readonly registry: Registry;
  readonly admissions: Counter<'decision' | 'kind' | 'route' | 'operation'>;
  /** Counts one answered review in sigward_admissions_total (a bound series: the per-review path). */
  countAdmission(decision: string, kind: string, route: string, operation: string): void;
  readonly admissionDuration: BoundHistogram<'route'>;
  readonly verifications: Counter<'policy' | 'authority' | 'result' | 'reason'>;
  /** Counts one authority outcome of a verification run (a bound series: every cold review counts one). */
  countVerification(policy: string, authority: string, result: string, reason: string): void;
  /** A bound histogram: every cold review records one verification's time. */
  readonly verificationDuration: BoundHistogram<'policy'>;
  /** Per required attestation (names from policies: bounded by the policies loaded). */
  readonly attestationVerifications: Counter<'policy' | 'authority' | 'attestation' | 'result' | 'reason'>;
  readonly cache: Counter<'cache' | 'result'>;
  /** Counts one cache lookup in sigward_cache_requests_total (a bound series: the per-review path). */
  cacheLookup(cache: string, result: string): void;
  /** Registry exchanges that got an HTTP response, by registry host, method and status code. */
  readonly registryRequests: Counter<'registry' | 'method' | 'status'>;
  /** Registry exchanges that got no usable response, by registry host, method and error code. */
  readonly registryErrors: Counter<'registry' | 'method' | 'error'>;
  /** Counts one exchange in the series its outcome belongs to (oci's onExchange). */
  registryExchange(exchange: RegistryExchange): void;
  readonly failOpen: Counter<'reason'>;
  readonly eventsDropped: Counter<'cause'>;
  /** Callers of the admission listener refused by client authentication (--client-ca), by reason. */
  readonly callersRefused: Counter<'reason'>;
  readonly trustRootLastSuccess: Gauge<'trust_root'>;
  readonly trustRootRefreshFailures: Counter<'trust_root' | 'reason'>;
  readonly policiesLoaded: Gauge;
  readonly recheckViolations: Gauge<'policy' | 'result'>;
  readonly recheckRounds: Counter<'trigger'>;
  readonly recheckDecisions: Counter<'result'>;
  readonly recheckReportFailures: Counter;
  /** The metrics in the Prometheus text format. */
  text(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  /** Each trust root by TrustRoot name and when it last refreshed or checked successfully, read at scrape time. */
  readonly trustRootFreshness?: () => ReadonlyArray<{
    readonly trustRoot: string;
    readonly status: { readonly lastSuccessAt: Date | undefined };
  }>;
  /** Number of compiled policies, read at scrape time. */
  readonly policyCount?: () => number;
  /** Failed results of running Pods now (continuous re-check), by policy and report result, read at scrape time. */
  readonly recheckViolations?: () => Iterable<{
    readonly policy: string;
    readonly result: string;
    readonly count: number;
  }>;
  /** Node's process metrics (process_*, nodejs_*: heap, event loop lag, …). Default true. */
  readonly processMetrics?: boolean;
  /** Reasons sigward_fail_open_total is exported with at 0 from the start, so `increase()` sees the first one. */
  readonly failOpenReasons?: readonly string[];
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // Every review counts one admission; every cold review a verification per authority and its registry
  // requests; every lookup a cache result: bound series (bound-metrics.ts), no label hashing per count.
  const { counter: admissions, count: countAdmission } = boundCounter({
    name: 'sigward_admissions_total',
    help: `Admission reviews answered, by decision (${ADMISSION_DECISIONS.join(', ')}), resource kind, route (validate, mutate) and operation`,
    labelNames: ['decision', 'kind', 'route', 'operation'] as const,
    registers,
  });
  const admissionDuration = new BoundHistogram({
    name: 'sigward_admission_duration_seconds',
    help: 'Time from receiving an admission review to answering it',
    labelNames: ['route'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const { counter: verifications, count: countVerification } = boundCounter({
    name: 'sigward_verifications_total',
    help: 'Signature verifications actually run (cache misses), by policy, authority, result and reason code',
    labelNames: ['policy', 'authority', 'result', 'reason'] as const,
    registers,
  });
  const attestationVerifications = new Counter({
    name: 'sigward_attestation_verifications_total',
    help: 'Required attestations checked (cache misses), by policy, authority, attestation name, result and reason code',
    labelNames: ['policy', 'authority', 'attestation', 'result', 'reason'] as const,
    registers,
  });
  const verificationDuration = new BoundHistogram({
    name: 'sigward_verification_duration_seconds',
    help: 'Time of one verification run (cache miss): discovery, fetches and crypto, by policy',
    labelNames: ['policy'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const { counter: cache, count: cacheLookup } = boundCounter({
    name: 'sigward_cache_requests_total',
    help: 'Cache lookups by cache (verdict, attestation, digest) and result (hit, miss, shared: joined an in-flight lookup)',
    labelNames: ['cache', 'result'] as const,
    registers,
  });
  const { counter: registryRequests, count: countRegistryRequest } = boundCounter({
    name: 'sigward_registry_requests_total',
    help: `HTTP exchanges with registries and token services that got a response, by registry host (the first ${REGISTRY_LABEL_LIMIT}, then other), method and HTTP status`,
    labelNames: ['registry', 'method', 'status'] as const,
    registers,
  });
  const registryErrors = new Counter({
    name: 'sigward_registry_request_errors_total',
    help: `Exchanges with registries and token services that got no usable response (timeout, refused connection, TLS, oversized body), by registry host (the first ${REGISTRY_LABEL_LIMIT}, then other), method and error code`,
    labelNames: ['registry', 'method', 'error'] as const,
    registers,
  });
  const registryHosts = new Set<string>();
  const registryLabel = (host: string): string => {
    if (registryHosts.has(host)) return host;
    if (registryHosts.size >= REGISTRY_LABEL_LIMIT) return 'other';
    registryHosts.add(host);
    return host;
  };
  const registryExchange = ({ host, method, outcome }: RegistryExchange): void => {
    const registry = registryLabel(host);
    if (typeof outcome === 'number') countRegistryRequest(registry, method, String(outcome));
    else registryErrors.inc({ registry, method, error: outcome });
  };
  const failOpen = new Counter({
    name: 'sigward_fail_open_total',
    help: 'Images admitted only because the failure outcome is allow (timeout, registry or trust-root error)',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of options.failOpenReasons ?? []) failOpen.inc({ reason }, 0);
  const eventsDropped = new Counter({
    name: 'sigward_events_dropped_total',
    help: 'Kubernetes Events on denied, warned or audited workloads not written, by cause (duplicate: the same event on the same object within a minute; rate-limited: over the global budget; failed: the apiserver refused it)',
    labelNames: ['cause'] as const,
    registers,
  });
  const callersRefused = new Counter({
    name: 'sigward_callers_refused_total',
    help: 'Callers of the admission listener refused by client authentication (--client-ca), by reason: no-certificate, untrusted-certificate (not from the bundle), name-not-accepted (none of the --client-name identities), handshake-failed (any other TLS failure)',
    labelNames: ['reason'] as const,
    registers,
  });
  // A timestamp, not an age: `time() - x` in the alert keeps growing while refreshes fail, and a
  // success (bytes changed or not) resets it. 0 means never: no refresh of that root ever succeeded.
  const trustRootLastSuccess = new Gauge({
    name: 'sigward_trust_root_last_success_timestamp_seconds',
    help: 'Unix time of the last successful refresh or check of each trust root (TUF refresh, --trusted-root file or ConfigMap read, inline root loaded), by TrustRoot name; 0 if none ever succeeded',
    labelNames: ['trust_root'] as const,
    registers,
    collect() {
      this.reset();
      for (const { trustRoot, status } of options.trustRootFreshness?.() ?? [])
        this.set({ trust_root: trustRoot }, (status.lastSuccessAt?.getTime() ?? 0) / 1000);
    },
  });
  const trustRootRefreshFailures = new Counter({
    name: 'sigward_trust_root_refresh_failures_total',
    help: 'Failed refreshes or checks of a trust root, by TrustRoot name and error code; the last good root keeps serving',
    labelNames: ['trust_root', 'reason'] as const,
    registers,
  });
  const policiesLoaded = new Gauge({
    name: 'sigward_policies',
    help: 'Compiled image policies in the current snapshot',
    registers,
    collect() {
      this.set(options.policyCount?.() ?? 0);
    },
  });
  // Continuous re-check (engine/recheck.ts). Policy names are bounded by what operators write; result is
  // fail | warn | error. A gauge, not a counter: it falls back to 0 when the Pod or the policy is fixed.
  // Series once seen stay (at 0 when fixed), so `== 0` and rate-free alerts work after a fix.
  const seenViolations = new Map<string, { policy: string; result: string }>();
  const recheckViolations = new Gauge({
    name: 'sigward_recheck_violations',
    help: 'Failed results of running Pods found by the continuous re-check, by policy and result (fail, warn, error); one per Pod, image site and policy',
    labelNames: ['policy', 'result'] as const,
    registers,
    collect() {
      const counts = new Map<string, number>();
      for (const { policy, result, count } of options.recheckViolations?.() ?? []) {
        const key = `${policy}\u0000${result}`;
        seenViolations.set(key, { policy, result });
        counts.set(key, (counts.get(key) ?? 0) + count);
      }
      for (const [key, labels] of seenViolations) this.set(labels, counts.get(key) ?? 0);
    },
  });
  const recheckRounds = new Counter({
    name: 'sigward_recheck_rounds_total',
    help: 'Re-check rounds over every running Pod, by trigger (start, policy, trust-root, key, periodic)',
    labelNames: ['trigger'] as const,
    registers,
  });
  const recheckDecisions = new Counter({
    name: 'sigward_recheck_decisions_total',
    help: 'Decisions made by the re-check (each distinct image digest and policy set once per round), by result (pass, fail, error)',
    labelNames: ['result'] as const,
    registers,
  });
  const recheckReportFailures = new Counter({
    name: 'sigward_recheck_report_write_failures_total',
    help: 'PolicyReport writes the apiserver refused or that failed (retried at the next change or round)',
    registers,
  });
  return {
    registry,
    admissions,
    countAdmission,
    admissionDuration,
    verifications,
    countVerification,
    verificationDuration,
    attestationVerifications,
    cache,
    cacheLookup,
    registryRequests,
    registryErrors,
    registryExchange,
    failOpen,
    eventsDropped,
    callersRefused,
    trustRootLastSuccess,
    trustRootRefreshFailures,
    policiesLoaded,
    recheckViolations,
    recheckRounds,
    recheckDecisions,
    recheckReportFailures,
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

/** The value of one counter series, for tests and the bench. */
export async function counterValue(
  counter: Counter<string>,
  labels: Readonly<Record<string, string>> = {},
): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}
