// Continuous re-check: the images of running Pods verified again when what admitted them may no
// longer hold, so a policy change that excludes a signer shows on Pods already running.
//
// A *round* re-checks every Pod; one starts when the policy snapshot's generation changes (a policy or
// TrustRoot resource edited), when the trust material of a root changes (new version: TUF refresh,
// ConfigMap or file edited), when a key Secret a policy names changes (read every `keyCheckMs`; its
// fingerprint is part of the verdict cache key, so the round verifies afresh), and every `intervalMs`.
// A changed key that any read notices (admission's included) checks the keys at once. Key Secrets are
// polled, not watched: the chart grants `get` on Secrets by name only, and a watch would
// need list/watch on every Secret of each namespace a policy may name one in (RBAC's resourceNames
// cannot list names that policies choose at run time). Between rounds the work is incremental: a Pod
// added or changed is checked alone, a Pod gone drops its results.
//
// Bounded work: within a round each distinct (image pinned to its running digest, policies matching
// it) is decided once, whatever the number of Pods and namespaces running it; the decision goes
// through the admission engine (Decider: the same verdict cache, single-flight, per-registry limits),
// and every decision not already made this round first takes a token from a shared bucket, so a
// round over 10,000 Pods cannot flood registries. Results are handed per namespace to a sink (kube/
// writes them as a PolicyReport), a Pod whose failures change is reported once (an Event on it), and
// the current violations are counted by policy (a metric).
import { describeError } from '../errors.ts';
import type { SkipSettings } from '../admission/skip.ts';
import { ERROR_REASONS } from '../policy/decision.ts';
import type { Decider, SiteDecision } from './decide.ts';
import { findingLine } from './review.ts';
import type { PolicySnapshotSource, PolicySnapshotView, PublicKeySource, WorkloadIdentity } from './ports.ts';
import { decisionKey, recheckPlan } from './recheck-sites.ts';
import { keyFingerprint, keySecretNamespace } from './verify-policy.ts';
import type { RecheckPlan, RecheckSite, RunningPod } from './recheck-sites.ts';

export type RecheckTrigger = 'start' | 'policy' | 'trust-root' | 'key' | 'periodic';

/** A token bucket (kube/token-bucket.ts): one token per decision not yet made this round. */
export interface RecheckRateLimit {
  take(): boolean;
  /** How long until take() can succeed. */
  msUntilToken(): number;
}

/** What the re-check found for one Pod. */
export interface PodRecheck {
  readonly pod: {
    readonly namespace: string;
    readonly name: string;
    readonly uid: string;
    /** The Pod's controller (ReplicaSet, Job, …), when it has one. */
    readonly owner?: { readonly kind: string; readonly name: string };
  };
  /** Per image site: the image as written, the digest verified, every policy result. */
  readonly decisions: readonly SiteDecision[];
  readonly checkedAt: Date;
}

export interface RecheckSink {
  /** Every re-checked Pod of the namespace now; empty when none is left (the report goes). */
  write(namespace: string, pods: readonly PodRecheck[]): Promise<void>;
  /** Namespaces holding a report written earlier (by this or another replica): stale ones go. */
  managedNamespaces?(): Promise<readonly string[]>;
}

/** A running Pod whose failed results changed: one line per failed (image, policy). */
export interface RecheckViolation {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly failures: readonly string[];
}

export interface RecheckObserver {
  round?(trigger: RecheckTrigger, pods: number): void;
  /** One decision made for the round (not a repeat of one already made this round). */
  decision?(result: 'pass' | 'fail' | 'error'): void;
  violation?(violation: RecheckViolation): void;
  sinkFailed?(namespace: string, error: unknown): void;
}

export interface RecheckDeps {
  readonly decider: Decider;
  readonly policies: PolicySnapshotSource;
  readonly limit: RecheckRateLimit;
  readonly sink: RecheckSink;
  readonly skip: SkipSettings;
  /** Key Secrets named by policies (authorities with key.secretRef), read every `keyCheckMs`. */
  readonly keys?: PublicKeySource;
  /**
   * Subscribes to "a read of a key Secret found its key changed" (kube/ SecretPublicKeys.onChange: the
   * reads admission makes too): the keys are checked at once, not at the next poll. Returns the cancel.
   */
  readonly keyChanges?: (listener: () => Promise<void>) => () => void;
  readonly namespaceLabels?: (namespace: string) => Readonly<Record<string, string>> | undefined;
  readonly observer?: RecheckObserver;
  /** Default: setTimeout. Tests move a clock instead. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Default: setInterval (unref'd). Returns the cancel. */
  readonly every?: (ms: number, run: () => void) => () => void;
}

export interface RecheckSettings {
  /** A full round this often (default 10 min); 0: only on changes. */
  readonly intervalMs?: number;
  /** Pods checked at once (default 4). */
  readonly concurrency?: number;
  /** Reports written after this many Pods checked, not only at the end of a round (default 50). */
  readonly flushEvery?: number;
  /** Key Secrets read this often; a changed or vanished key starts a round (default 30 s; 0: never). */
  readonly keyCheckMs?: number;
}

export class RecheckScheduler {
  readonly #deps: RecheckDeps;
  readonly #settings: Required<RecheckSettings>;
  readonly #pods = new Map<string, RunningPod>();
  readonly #results = new Map<string, PodRecheck>();
  /** Pod key → its failure lines last reported (an Event is written only when they change). */
  readonly #reported = new Map<string, string>();
  readonly #queue = new Set<string>();
  readonly #dirty = new Set<string>();
  #memo = new Map<string, Promise<SiteDecision>>();
  /** This round's decision key per (namespace, image to verify): matching policies once, not per Pod. */
  #keys = new Map<string, string>();
  /** A Pod's plan while neither it nor its namespace's labels change (periodic rounds re-use it). */
  readonly #plans = new WeakMap<RunningPod, { labels: string; plan: RecheckPlan }>();
  #round = 0;
  #generation: string | undefined;
  #trustVersion: string | undefined;
  /** Key Secret (`namespace/name/key`) → fingerprint of its key, or the error reading it. */
  #keyPrints = new Map<string, string>();
  /** Whether reports of namespaces with no Pod left (an earlier leader's) were removed since start. */
  #staleSwept = true;
  #podsSynced = false;
  #running: Promise<void> | undefined;
  #cancelTimer: (() => void) | undefined;
  #started = false;

  constructor(deps: RecheckDeps, settings: RecheckSettings = {}) {
    this.#deps = deps;
    this.#settings = {
      intervalMs: settings.intervalMs ?? 10 * 60 * 1000,
      concurrency: settings.concurrency ?? 4,
      flushEvery: settings.flushEvery ?? 50,
      keyCheckMs: settings.keyCheckMs ?? 30_000,
    };
  }

  /**
   * Starts the first round and the timers; once the Pods are listed (podsSynced), reports an earlier
   * leader left in namespaces with no Pod are removed.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#generation = this.#deps.policies.current()?.generation;
    this.#round++;
    this.#deps.observer?.round?.('start', this.#pods.size);
    const { intervalMs } = this.#settings;
    const timers = this.#deps.every ?? every;
    const cancels: Array<() => void> = [];
    if (intervalMs > 0) cancels.push(timers(intervalMs, () => this.recheckAll('periodic')));
    if (this.#deps.keys !== undefined && this.#settings.keyCheckMs > 0)
      cancels.push(timers(this.#settings.keyCheckMs, () => void this.checkKeys()));
    if (this.#deps.keys !== undefined && this.#deps.keyChanges !== undefined)
      cancels.push(this.#deps.keyChanges(() => this.checkKeys()));
    this.#cancelTimer = () => cancels.forEach((cancel) => cancel());
    void this.checkKeys(); // the keys as this round sees them: later changes start a round
    this.#staleSwept = false;
  }

  /** Stops (leadership lost): forgets everything; the next leader starts from the cluster. */
  async stop(): Promise<void> {
    this.#started = false;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#queue.clear();
    await this.#running;
    this.#pods.clear();
    this.#results.clear();
    this.#reported.clear();
    this.#dirty.clear();
    this.#memo = new Map();
    this.#keys = new Map();
    this.#keyPrints = new Map();
    this.#podsSynced = false;
    this.#staleSwept = true;
  }

  /** Pods added or changed, and the keys of Pods gone (kube/running-pods.ts). */
  podsChanged(upserted: readonly RunningPod[], removed: readonly string[]): void {
    for (const pod of upserted) {
      this.#pods.set(pod.key, pod);
      this.#queue.add(pod.key);
    }
    for (const key of removed) {
      const pod = this.#pods.get(key);
      this.#pods.delete(key);
      this.#queue.delete(key);
      this.#reported.delete(key);
      if (this.#results.delete(key) && pod !== undefined) this.#dirty.add(pod.namespace);
    }
    this.#kick();
  }

  /** The Pod informer has delivered its first list: namespaces with no Pod left lose their report. */
  podsSynced(): void {
    this.#podsSynced = true;
    this.#kick();
  }

  /** The policy snapshot may have changed: a new generation starts a round. */
  policiesChanged(): void {
    const generation = this.#deps.policies.current()?.generation;
    if (generation === this.#generation) return;
    this.#generation = generation;
    this.recheckAll('policy');
  }

  /** The trust material's version (every root's) may have changed: a new one starts a round. */
  trustRootsChanged(version: string): void {
    const before = this.#trustVersion;
    this.#trustVersion = version;
    if (before !== undefined && before !== version) this.recheckAll('trust-root');
  }

  /**
   * Reads every key Secret the policies name (kube/ keeps a read 5 s): a key that changed, appeared or
   * vanished since the last check starts a round. Keys of new or removed policies do not (the policy
   * change starts its own round).
   */
  async checkKeys(): Promise<void> {
    const keys = this.#deps.keys;
    const snapshot = this.#deps.policies.current();
    if (keys === undefined || snapshot === undefined || !this.#started) return;
    const refs = keySecretsOf(snapshot.policies, this.#deps.skip.ownNamespace);
    const prints = new Map<string, string>();
    await Promise.all(
      [...refs].map(async ([id, ref]) => {
        try {
          const key = await keys.publicKey(ref);
          prints.set(id, keyFingerprint(key));
        } catch (error) {
          prints.set(id, `unreadable: ${(error as { code?: unknown }).code ?? describeError(error)}`);
        }
      }),
    );
    const before = this.#keyPrints;
    this.#keyPrints = prints;
    for (const [id, print] of prints)
      if (before.has(id) && before.get(id) !== print) return this.recheckAll('key');
  }

  /** A new round: every Pod checked again, every decision made again (once). */
  recheckAll(trigger: RecheckTrigger): void {
    if (!this.#started) return;
    this.#round++;
    this.#memo = new Map();
    this.#keys = new Map();
    for (const key of this.#pods.keys()) this.#queue.add(key);
    this.#deps.observer?.round?.(trigger, this.#pods.size);
    this.#kick();
  }

  /** Resolves once nothing is queued and every report is written (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  get round(): number {
    return this.#round;
  }

  /** Every Pod's last results (the violations metric counts their failures). */
  results(): IterableIterator<PodRecheck> {
    return this.#results.values();
  }

  /** The last results of one Pod (tests, debugging). */
  resultOf(key: string): PodRecheck | undefined {
    return this.#results.get(key);
  }

  #kick(): void {
    if (this.#running !== undefined || !this.#started) return;
    this.#running = this.#drain().finally(() => {
      this.#running = undefined;
      if (this.#started && (this.#queue.size > 0 || this.#dirty.size > 0)) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    let checked = 0;
    while (this.#queue.size > 0 && this.#started) {
      const batch = [...this.#queue].slice(0, this.#settings.concurrency);
      for (const key of batch) this.#queue.delete(key);
      await Promise.all(batch.map((key) => this.#check(key)));
      checked += batch.length;
      if (checked >= this.#settings.flushEvery) {
        checked = 0;
        await this.#flush();
      }
    }
    if (this.#started && this.#podsSynced && !this.#staleSwept) await this.#sweepStale();
    await this.#flush();
  }

  async #check(key: string): Promise<void> {
    const pod = this.#pods.get(key);
    const snapshot = this.#deps.policies.current();
    if (pod === undefined || snapshot === undefined) return;
    const plan = this.#planOf(pod);
    if (plan.skip !== undefined) {
      if (this.#results.delete(key)) this.#dirty.add(pod.namespace);
      this.#reported.delete(key);
      return;
    }
    const decisions = await Promise.all(
      plan.sites.map((site) => this.#decide(site, pod.namespace, plan.workload, snapshot)),
    );
    // The Pod may have gone or changed while it was being checked: its newer state is queued.
    if (this.#pods.get(key) !== pod) return;
    const { owner } = pod;
    this.#results.set(key, {
      pod: {
        namespace: pod.namespace,
        name: pod.name,
        uid: pod.uid,
        ...(owner === undefined ? {} : { owner }),
      },
      decisions,
      checkedAt: new Date(),
    });
    this.#dirty.add(pod.namespace);
    const failures = decisions.flatMap((d) =>
      d.results.filter((r) => !r.passed).map((r) => findingLine(d, r)),
    );
    const signature = failures.join('\n');
    if (signature === (this.#reported.get(key) ?? '')) return;
    if (failures.length === 0) this.#reported.delete(key);
    else {
      this.#reported.set(key, signature);
      this.#deps.observer?.violation?.({ namespace: pod.namespace, name: pod.name, uid: pod.uid, failures });
    }
  }

  /**
   * One decision per (pinned image, matching policies) per round, each after a token. A decision that
   * could not tell (registry error, missing credentials) is not shared with Pods whose pull
   * credentials differ: each such workload identity gets its own try.
   */
  #decide(
    site: RecheckSite,
    namespace: string,
    workload: WorkloadIdentity,
    snapshot: PolicySnapshotView,
  ): Promise<SiteDecision> {
    const siteKey = `${namespace}\u0000${site.verify}`;
    let key = this.#keys.get(siteKey);
    if (key === undefined) this.#keys.set(siteKey, (key = decisionKey(site, namespace, snapshot.policies)));
    const own = `${key}|${credentialsKey(workload)}`;
    const once = (memoKey: string): Promise<SiteDecision> => {
      let decision = this.#memo.get(memoKey);
      if (decision === undefined) {
        decision = this.#decideOnce(site, workload, snapshot);
        this.#memo.set(memoKey, decision);
        if (memoKey === key) this.#memo.set(own, decision);
      }
      return decision;
    };
    return once(key)
      .then((d) => (couldNotTell(d) ? once(own) : d))
      .then((d) => ({ ...d, field: site.field, image: site.image }));
  }

  async #decideOnce(
    site: RecheckSite,
    workload: WorkloadIdentity,
    snapshot: PolicySnapshotView,
  ): Promise<SiteDecision> {
    await this.#token();
    let decision: SiteDecision;
    try {
      [decision] = (await this.#deps.decider.decide(
        [{ field: site.field, image: site.verify }],
        workload,
        snapshot,
      )) as [SiteDecision];
    } catch (error) {
      decision = {
        field: site.field,
        image: site.verify,
        outcome: 'deny',
        results: [
          {
            mode: 'enforce',
            passed: false,
            reason: 'INTERNAL_ERROR',
            outcome: 'deny',
            detail: describeError(error),
          },
        ],
      };
    }
    const result = decision.results.every((r) => r.passed)
      ? 'pass'
      : couldNotTell(decision)
        ? 'error'
        : 'fail';
    this.#deps.observer?.decision?.(result);
    return decision;
  }

  async #token(): Promise<void> {
    const sleep = this.#deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()));
    // Stopping (leadership lost) ends the wait: the decision then runs once and is forgotten.
    while (this.#started && !this.#deps.limit.take())
      await sleep(Math.max(1, Math.ceil(this.#deps.limit.msUntilToken())));
  }

  async #flush(): Promise<void> {
    const namespaces = [...this.#dirty];
    this.#dirty.clear();
    for (const namespace of namespaces) {
      const pods = [...this.#results.values()].filter((r) => r.pod.namespace === namespace);
      try {
        await this.#deps.sink.write(namespace, pods);
      } catch (error) {
        this.#deps.observer?.sinkFailed?.(namespace, error);
      }
    }
  }

  /** Marks namespaces holding a report but no checked Pod; a failed listing is retried next drain. */
  async #sweepStale(): Promise<void> {
    try {
      const managed = (await this.#deps.sink.managedNamespaces?.()) ?? [];
      for (const ns of managed) if (!this.#hasResults(ns)) this.#dirty.add(ns);
      this.#staleSwept = true;
    } catch (error) {
      this.#deps.observer?.sinkFailed?.('*', error);
      setTimeout(() => this.#kick(), 5000).unref(); // e.g. the CRD was only just created: try again
    }
  }

  #planOf(pod: RunningPod): RecheckPlan {
    const labels = this.#deps.namespaceLabels?.(pod.namespace);
    const print = labels === undefined ? '' : JSON.stringify(labels);
    const known = this.#plans.get(pod);
    if (known !== undefined && known.labels === print) return known.plan;
    const plan = recheckPlan(pod, this.#deps.skip, labels);
    this.#plans.set(pod, { labels: print, plan });
    return plan;
  }

  #hasResults(namespace: string): boolean {
    for (const r of this.#results.values()) if (r.pod.namespace === namespace) return true;
    return false;
  }
}

const couldNotTell = (d: SiteDecision): boolean =>
  d.results.some((r) => !r.passed && ERROR_REASONS.has(r.reason));

/** Who pulls: the namespace, service account and pull secrets (never their contents). */
const credentialsKey = (w: WorkloadIdentity): string =>
  JSON.stringify([w.namespace, w.serviceAccountName ?? '', w.imagePullSecrets ?? []]);

/** Every key Secret named by a policy, where the engine reads it (never the workload's namespace). */
function keySecretsOf(
  policies: PolicySnapshotView['policies'],
  ownNamespace: string,
): Map<string, { namespace: string; name: string; key: string }> {
  const refs = new Map<string, { namespace: string; name: string; key: string }>();
  for (const policy of policies)
    for (const a of policy.authorities) {
      if (a.kind !== 'key' || a.key.source !== 'secret') continue;
      const namespace = keySecretNamespace(a.key, policy, ownNamespace) ?? ownNamespace;
      refs.set(`${namespace}/${a.key.name}/${a.key.key}`, { namespace, name: a.key.name, key: a.key.key });
    }
  return refs;
}

function every(ms: number, run: () => void): () => void {
  const timer = setInterval(run, ms);
  timer.unref();
  return () => clearInterval(timer);
}
