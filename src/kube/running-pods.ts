// The Pods of the cluster, for the continuous re-check: one list+watch on Pods in every namespace, each
// Pod reduced to what re-checking needs (its image sites, the digests its containers run from
// status.*ContainerStatuses[].imageID, its service account and pull secrets, its controller) as plain
// JSON, and every change reported as the Pods that were added or changed and the ones that went away,
// so the re-check works incrementally. Finished Pods (phase Succeeded or Failed) run nothing: they
// count as gone.
import type { KubeClient } from './client/http.ts';
import type { Pod } from './client/resources.ts';
import { ResourceInformer } from './informer.ts';
import type { BackoffSettings } from './informer.ts';
import { podController, type WorkloadOwner } from './workloads.ts';

/** A Pod as the re-check sees it (structurally engine/'s RunningPod). */
export interface PodView {
  /** `namespace/name` */
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** The Pod's controller (ReplicaSet, Job, …; kube/workloads.ts podController), when it has one. */
  readonly owner?: WorkloadOwner;
  /** The Pod as JSON: metadata, spec (containers, volumes, pull secrets) and container statuses. */
  readonly object: Readonly<Record<string, unknown>>;
}

export interface RunningPodsEvents {
  /** Pods added or changed (their images, statuses or pull secrets), and the keys of Pods gone. */
  changed(upserted: readonly PodView[], removed: readonly string[]): void;
  /**
   * The first list succeeded and every Pod in it was reported: only now does "no Pod in namespace N"
   * mean there is none (a failed list is retried with backoff and says nothing).
   */
  synced?(): void;
  failed?(error: unknown, retryInMs: number): void;
}

export class RunningPods {
  readonly #informer: ResourceInformer<Pod>;
  readonly #events: RunningPodsEvents;
  /** key → fingerprint of what was last reported. */
  #known = new Map<string, string>();
  /** Objects changed since the last report (undefined: deleted), by key. */
  #pending = new Map<string, Pod | undefined>();
  #scheduled = false;
  #announced = false;

  constructor(client: KubeClient, events: RunningPodsEvents, backoff: BackoffSettings = {}) {
    this.#events = events;
    this.#informer = new ResourceInformer<Pod>(
      client,
      '/api/v1/pods',
      {
        changed: () => this.#syncedOnce(),
        object: (verb, pod) => this.#changed(verb, pod),
        ...(events.failed === undefined ? {} : { failed: events.failed }),
      },
      backoff,
    );
  }

  get synced(): boolean {
    return this.#informer.synced;
  }

  /** Every running Pod now. */
  list(): PodView[] {
    return this.#informer
      .list()
      .map(podView)
      .filter((p): p is PodView => p !== undefined);
  }

  /** Lists and watches; resolves after the first list attempt (synced() says when one succeeded). */
  start(): Promise<void> {
    return this.#informer.start();
  }

  async stop(): Promise<void> {
    await this.#informer.stop();
    this.#known = new Map();
    this.#pending = new Map();
    this.#announced = false;
  }

  #syncedOnce(): void {
    if (this.#announced || !this.#informer.synced) return;
    this.#announced = true;
    this.#report();
    this.#events.synced?.();
  }

  // Work per changed object, never per Pod in the cluster: a burst of watch events (a re-list
  // delivers every Pod) becomes one report of what really changed for the re-check.
  #changed(verb: 'add' | 'update' | 'delete', pod: Pod): void {
    const namespace = pod.metadata?.namespace;
    const name = pod.metadata?.name;
    if (namespace === undefined || name === undefined) return;
    this.#pending.set(`${namespace}/${name}`, verb === 'delete' ? undefined : pod);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#report());
  }

  #report(): void {
    this.#scheduled = false;
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    const upserted: PodView[] = [];
    const removed: string[] = [];
    for (const [key, pod] of pending) {
      const view = pod === undefined ? undefined : podView(pod);
      if (view === undefined) {
        if (this.#known.delete(key)) removed.push(key);
        continue;
      }
      const print = JSON.stringify(view.object);
      if (this.#known.get(key) === print) continue;
      this.#known.set(key, print);
      upserted.push(view);
    }
    if (upserted.length > 0 || removed.length > 0) this.#events.changed(upserted, removed);
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const array = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The Pod reduced to what the re-check reads, or undefined for a finished or unnamed Pod. */
export function podView(pod: Pod | Json): PodView | undefined {
  const raw = pod as Json;
  const metadata = isObject(raw['metadata']) ? raw['metadata'] : {};
  const spec = isObject(raw['spec']) ? raw['spec'] : {};
  const status = isObject(raw['status']) ? raw['status'] : {};
  const namespace = text(metadata['namespace']);
  const name = text(metadata['name']);
  if (namespace === undefined || name === undefined) return undefined;
  const phase = text(status['phase']);
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const containers = (key: string) =>
    array(spec[key]).map((c) => (isObject(c) ? { name: text(c['name']), image: c['image'] } : {}));
  const statuses = (key: string) =>
    array(status[key]).flatMap((s) =>
      isObject(s) && typeof s['name'] === 'string' && typeof s['imageID'] === 'string'
        ? [{ name: s['name'], imageID: s['imageID'] }]
        : [],
    );
  const volumes = array(spec['volumes']).flatMap((v) =>
    isObject(v) && isObject(v['image'])
      ? [{ name: text(v['name']), image: { reference: v['image']['reference'] } }]
      : [isObject(v) ? { name: text(v['name']) } : {}],
  );
  const owner = podController({ ownerReferences: array(metadata['ownerReferences']).filter(isObject) });
  const object: Json = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      uid: text(metadata['uid']) ?? '',
      ...(owner === undefined ? {} : { ownerReferences: [owner] }),
    },
    spec: {
      containers: containers('containers'),
      initContainers: containers('initContainers'),
      ephemeralContainers: containers('ephemeralContainers'),
      volumes,
      ...(text(spec['serviceAccountName']) === undefined
        ? {}
        : { serviceAccountName: spec['serviceAccountName'] }),
      imagePullSecrets: array(spec['imagePullSecrets']).map((s) => (isObject(s) ? { name: s['name'] } : {})),
    },
    status: {
      containerStatuses: statuses('containerStatuses'),
      initContainerStatuses: statuses('initContainerStatuses'),
      ephemeralContainerStatuses: statuses('ephemeralContainerStatuses'),
    },
  };
  const uid = text(metadata['uid']) ?? '';
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    uid,
    ...(owner === undefined ? {} : { owner }),
    object,
  };
}
