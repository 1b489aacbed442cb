// Metric definitions. Every label has a bounded set of values: decisions, kinds and modes are enums,
// policy and authority names come from cluster objects (bounded by what an operator writes), reasons
// are reason codes, registry outcomes are HTTP statuses or error codes. Never an image name or digest.
// Each Metrics owns its own prom-client Registry, so two apps in one process (tests) never collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds; the apiserver gives a webhook at most 30 s, so the buckets reach that far. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 25, 30];

export interface Metrics {
  readonly registry: Registry;
  readonly admissions: Counter<'decision' | 'kind' | 'mode' | 'operation'>;
  readonly admissionDuration: Histogram<'route'>;
  readonly verifications: Counter<'policy' | 'authority' | 'result' | 'reason'>;
  readonly verificationDuration: Histogram<'policy'>;
  /** Per required attestation (names from policies: bounded by the policies loaded). */
  readonly attestationVerifications: Counter<'policy' | 'authority' | 'attestation' | 'result' | 'reason'>;
  readonly cache: Counter<'cache' | 'result'>;
  readonly registryRequests: Counter<'method' | 'status'>;
  readonly failOpen: Counter<'reason'>;
  readonly eventsDropped: Counter<'cause'>;
  readonly trustRootLastSuccess: Gauge<'trust_root'>;
  readonly trustRootRefreshFailures: Counter<'trust_root' | 'reason'>;
  readonly policiesLoaded: Gauge;
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
  /** Node's process metrics (heap, event loop lag, …). Default true. */
  readonly processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'sigward_' });
  const registers = [registry];
  const admissions = new Counter({
    name: 'sigward_admissions_total',
    help: 'Admission reviews answered, by decision (allow, deny, warn, skip, error-allow, error-deny), resource kind, mode and operation',
    labelNames: ['decision', 'kind', 'mode', 'operation'] as const,
    registers,
  });
  const admissionDuration = new Histogram({
    name: 'sigward_admission_duration_seconds',
    help: 'Time from receiving an admission review to answering it',
    labelNames: ['route'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const verifications = new Counter({
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
  const verificationDuration = new Histogram({
    name: 'sigward_verification_duration_seconds',
    help: 'Time of one verification run (cache miss): discovery, fetches and crypto, by policy',
    labelNames: ['policy'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const cache = new Counter({
    name: 'sigward_cache_requests_total',
    help: 'Cache lookups by cache (verdict, digest) and result (hit, miss, shared: joined an in-flight lookup)',
    labelNames: ['cache', 'result'] as const,
    registers,
  });
  const registryRequests = new Counter({
    name: 'sigward_registry_requests_total',
    help: 'HTTP exchanges with registries and token services, by method and status (or error code)',
    labelNames: ['method', 'status'] as const,
    registers,
  });
  const failOpen = new Counter({
    name: 'sigward_fail_open_total',
    help: 'Images admitted only because the failure outcome is allow (timeout, registry or trust-root error)',
    labelNames: ['reason'] as const,
    registers,
  });
  const eventsDropped = new Counter({
    name: 'sigward_events_dropped_total',
    help: 'Kubernetes Events on denied, warned or audited workloads not written, by cause (duplicate: the same event on the same object within a minute; rate-limited: over the global budget; failed: the apiserver refused it)',
    labelNames: ['cause'] as const,
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
  return {
    registry,
    admissions,
    admissionDuration,
    verifications,
    verificationDuration,
    attestationVerifications,
    cache,
    registryRequests,
    failOpen,
    eventsDropped,
    trustRootLastSuccess,
    trustRootRefreshFailures,
    policiesLoaded,
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
