// Policies from the cluster: informers on ClusterImagePolicy, ImagePolicy and TrustRoot
// (policy.sigward.dev/v1alpha1). Any change rebuilds the snapshot (within the informer's watch
// latency: well under a second), and the engine's cache keys follow its generation. Ready once all
// three kinds were listed. The leader (a Lease) writes each resource's status: observedGeneration
// and a Ready condition naming every field that does not compile.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { readyCondition } from '../policy/compile.ts';
import { POLICY_GROUP, POLICY_VERSION } from '../policy/types.ts';
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
  informerFailed?(kind: ResourceKind, error: unknown, retryInMs: number): void;
  statusWritten?(resource: CompiledResource): void;
  statusFailed?(resource: CompiledResource, error: unknown): void;
}

export interface ClusterPolicySourceOptions {
  readonly events?: ClusterPolicySourceEvents;
  /** Whether this replica writes status now (the Lease holder). Default: always. */
  readonly isLeader?: () => boolean;
  readonly backoff?: BackoffSettings;
}

export class ClusterPolicySource {
  readonly #api: CustomObjectsApi;
  readonly #informers: ReadonlyMap<ResourceKind, ResourceInformer<KubernetesObject>>;
  readonly #options: ClusterPolicySourceOptions;
  #snapshot: PolicySnapshot = buildSnapshot([]);
  #scheduled = false;
  #reportedSynced = false;
  readonly #writing = new Set<string>();

  constructor(kubeConfig: KubeConfig, options: ClusterPolicySourceOptions = {}) {
    this.#api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#options = options;
    const informers = new Map<ResourceKind, ResourceInformer<KubernetesObject>>();
    for (const kind of Object.keys(PLURALS) as ResourceKind[]) {
      const plural = PLURALS[kind];
      const params = { group: POLICY_GROUP, version: POLICY_VERSION, plural };
      const list =
        kind === 'ImagePolicy'
          ? () =>
              this.#api.listCustomObjectForAllNamespaces({
                group: POLICY_GROUP,
                version: POLICY_VERSION,
                resourcePlural: plural,
              })
          : () => this.#api.listClusterCustomObject(params);
      informers.set(
        kind,
        new ResourceInformer(
          kubeConfig,
          `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${plural}`,
          list as () => Promise<KubernetesListObject<KubernetesObject>>,
          {
            changed: () => this.#schedule(),
            failed: (error, retryInMs) => options.events?.informerFailed?.(kind, error, retryInMs),
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
    if (resource.name === '') return;
    const condition = readyCondition(
      resource.errors,
      resource.generation,
      new Date(),
      resource.warnings ?? [],
    );
    if (
      resource.observedGeneration === resource.generation &&
      resource.readyStatus === condition.status &&
      resource.readyMessage === condition.message
    )
      return;
    const key = `${resource.kind}/${resource.namespace ?? ''}/${resource.name}/${resource.generation}/${condition.message}`;
    if (this.#writing.has(key)) return;
    this.#writing.add(key);
    const body = { status: { observedGeneration: resource.generation, conditions: [condition] } };
    const params = {
      group: POLICY_GROUP,
      version: POLICY_VERSION,
      plural: PLURALS[resource.kind],
      name: resource.name,
      body,
    };
    const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const write =
      resource.namespace === undefined
        ? this.#api.patchClusterCustomObjectStatus(params, options)
        : this.#api.patchNamespacedCustomObjectStatus({ ...params, namespace: resource.namespace }, options);
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
}
