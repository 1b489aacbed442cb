// Policies from the cluster: informers on ClusterImagePolicy, ImagePolicy and TrustRoot
// (policy.sigward.dev/v1alpha1). Any change rebuilds the snapshot (within the informer's watch
// latency: well under a second), and the engine's cache keys follow its generation. Ready once all
// three kinds were listed. The leader (a Lease) writes each resource's status: observedGeneration
// and a Ready condition naming every field that does not compile; a TrustRoot also gets a Refreshed
// condition, the state of its root's last refresh or check (True, or False with the error while the
// last good root serves). It is the leader's own state: each replica refreshes on its own, and its
// metrics show its own.
import { CustomObjectsApi } from './client/apis.ts';
import type { KubeClient } from './client/http.ts';
import type { KubeObject } from './client/resources.ts';
import { readyCondition } from '../policy/compile.ts';
import { POLICY_CONTROLLER_GROUP } from '../policy/policy-controller.ts';
import { POLICY_GROUP, POLICY_VERSION } from '../policy/types.ts';
import type { Condition } from '../policy/types.ts';
import { ResourceInformer } from './informer.ts';
import type { BackoffSettings } from './informer.ts';
import { buildSnapshot } from './snapshot.ts';
import type { CompiledResource, PolicySnapshot, ResourceKind } from './snapshot.ts';

const PLURALS: Readonly<Record<ResourceKind, string>> = {
  ClusterImagePolicy: 'clusterimagepolicies',
  ImagePolicy: 'imagepolicies',
  TrustRoot: 'trustroots',
};

export interface ClusterPolicySourceEvents {
  changed?(snapshot: PolicySnapshot): void;
  /** Every kind was listed (once, the first time): the webhook may report ready. */
  synced?(snapshot: PolicySnapshot): void;
  /** `kind` is a ResourceKind, or `ClusterImagePolicy.policy.sigstore.dev`. */
  informerFailed?(kind: string, error: unknown, retryInMs: number): void;
  statusWritten?(resource: CompiledResource): void;
  statusFailed?(resource: CompiledResource, error: unknown): void;
}

export interface ClusterPolicySourceOptions {
  readonly events?: ClusterPolicySourceEvents;
  /** Whether this replica writes status now (the Lease holder). Default: always. */
  readonly isLeader?: () => boolean;
  readonly backoff?: BackoffSettings;
  /** A TrustRoot's refresh state (undefined: not refreshed or checked yet), for its Refreshed condition. */
  readonly trustRootRefresh?: (name: string) => TrustRootRefresh | undefined;
  /**
   * Also read policy-controller's ClusterImagePolicies (policy.sigstore.dev/v1beta1) as-is, through
   * the same compiler (policy/policy-controller.ts). Read-only: their status is policy-controller's.
   */
  readonly policyControllerPolicies?: boolean;
}

/** The informer key and version of policy-controller's ClusterImagePolicy. */
export const POLICY_CONTROLLER_CIP = `ClusterImagePolicy.${POLICY_CONTROLLER_GROUP}`;
const POLICY_CONTROLLER_VERSION = 'v1beta1';

export interface TrustRootRefresh {
  readonly ok: boolean;
  readonly reason: string;
  readonly message: string;
}

export class ClusterPolicySource {
  readonly #api: CustomObjectsApi;
  readonly #informers: ReadonlyMap<string, ResourceInformer<KubeObject>>;
  readonly #options: ClusterPolicySourceOptions;
  #snapshot: PolicySnapshot = buildSnapshot([]);
  #scheduled = false;
  #reportedSynced = false;
  readonly #writing = new Set<string>();

  constructor(client: KubeClient, options: ClusterPolicySourceOptions = {}) {
    this.#api = new CustomObjectsApi(client);
    this.#options = options;
    const informers = new Map<string, ResourceInformer<KubeObject>>();
    // ImagePolicies of every namespace, and the cluster-scoped kinds: the same path lists and watches.
    for (const kind of Object.keys(PLURALS) as ResourceKind[]) {
      const plural = PLURALS[kind];
      informers.set(
        kind,
        new ResourceInformer(
          client,
          `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${plural}`,
          {
            changed: () => this.#schedule(),
            failed: (error, retryInMs) => options.events?.informerFailed?.(kind, error, retryInMs),
          },
          options.backoff,
        ),
      );
    }
    if (options.policyControllerPolicies === true) {
      const params = {
        group: POLICY_CONTROLLER_GROUP,
        version: POLICY_CONTROLLER_VERSION,
        plural: 'clusterimagepolicies',
      };
      informers.set(
        POLICY_CONTROLLER_CIP,
        new ResourceInformer(
          client,
          `/apis/${params.group}/${params.version}/${params.plural}`,
          {
            changed: () => this.#schedule(),
            failed: (error, retryInMs) =>
              options.events?.informerFailed?.(POLICY_CONTROLLER_CIP, error, retryInMs),
          },
          options.backoff,
        ),
      );
    }
    this.#informers = informers;
  }

  current(): PolicySnapshot {
    return this.#snapshot;
  }

  /** True once every kind was listed at least once. */
  get synced(): boolean {
    return [...this.#informers.values()].every((i) => i.synced);
  }

  /** What is not synced yet, in words. */
  unsynced(): string[] {
    return [...this.#informers].filter(([, i]) => !i.synced).map(([kind]) => `${kind} not listed yet`);
  }

  async start(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.stop()));
  }

  /** Writes status for every resource whose status is behind (call when becoming the leader). */
  syncStatus(): void {
    for (const resource of this.#snapshot.resources) this.#maybeWriteStatus(resource);
  }

  /** A trust root was refreshed or checked: write its TrustRoot's Refreshed condition if it changed. */
  trustRootRefreshed(name: string): void {
    for (const resource of this.#snapshot.resources)
      if (resource.kind === 'TrustRoot' && resource.name === name) this.#maybeWriteStatus(resource);
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Coalesce the events of one re-list into one rebuild.
    setImmediate(() => {
      this.#scheduled = false;
      this.#rebuild();
    });
  }

  #rebuild(): void {
    const all = [...this.#informers.values()].flatMap((i) => i.list());
    const next = buildSnapshot(all);
    const changed = next.generation !== this.#snapshot.generation;
    this.#snapshot = next;
    if (changed) this.#options.events?.changed?.(next);
    if (!this.#reportedSynced && this.synced) {
      this.#reportedSynced = true;
      this.#options.events?.synced?.(next);
    }
    this.syncStatus();
  }

  #maybeWriteStatus(resource: CompiledResource): void {
    if (!(this.#options.isLeader?.() ?? true)) return;
    // policy-controller owns its resources' status (both may run during a migration): never written.
    if (resource.apiGroup !== undefined) return;
    if (resource.name === '') return;
    const now = new Date();
    const condition = readyCondition(resource.errors, resource.generation, now, resource.warnings ?? []);
    const refreshed = resource.kind === 'TrustRoot' ? this.#refreshedCondition(resource, now) : undefined;
    const current = resource.refreshed;
    if (
      resource.observedGeneration === resource.generation &&
      resource.readyStatus === condition.status &&
      resource.readyMessage === condition.message &&
      (refreshed === undefined ||
        (current?.status === refreshed.status &&
          current.reason === refreshed.reason &&
          current.message === refreshed.message))
    )
      return;
    const key = `${resource.kind}/${resource.namespace ?? ''}/${resource.name}/${resource.generation}/${condition.message}/${refreshed?.message ?? ''}`;
    if (this.#writing.has(key)) return;
    this.#writing.add(key);
    // A merge patch replaces the whole list: both conditions go in every write.
    const conditions = refreshed === undefined ? [condition] : [condition, refreshed];
    const body = { status: { observedGeneration: resource.generation, conditions } };
    const write = this.#api.patchStatus(
      {
        group: POLICY_GROUP,
        version: POLICY_VERSION,
        plural: PLURALS[resource.kind],
        name: resource.name,
        ...(resource.namespace === undefined ? {} : { namespace: resource.namespace }),
      },
      body,
    );
    write.then(
      () => {
        this.#writing.delete(key);
        this.#options.events?.statusWritten?.(resource);
      },
      (error: unknown) => {
        this.#writing.delete(key);
        this.#options.events?.statusFailed?.(resource, error);
      },
    );
  }

  /** The Refreshed condition from the root's state; the one written before when there is no state yet. */
  #refreshedCondition(resource: CompiledResource, now: Date): Condition | undefined {
    const state = this.#options.trustRootRefresh?.(resource.name);
    const current = resource.refreshed;
    if (state === undefined) {
      if (current?.status === undefined || current.reason === undefined) return undefined;
      return {
        type: 'Refreshed',
        status: current.status as Condition['status'],
        reason: current.reason,
        message: current.message ?? '',
        lastTransitionTime: current.lastTransitionTime ?? stamp(now),
      };
    }
    const status = state.ok ? 'True' : 'False';
    const message = state.message.length > 32768 ? `${state.message.slice(0, 32767)}…` : state.message;
    return {
      type: 'Refreshed',
      status,
      reason: state.reason,
      message,
      observedGeneration: resource.generation,
      // The transition time moves only when the status flips (the Kubernetes condition convention).
      lastTransitionTime:
        current?.status === status && current.lastTransitionTime !== undefined
          ? current.lastTransitionTime
          : stamp(now),
    };
  }
}

function stamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
