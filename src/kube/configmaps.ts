// The ConfigMaps that TrustRoots name (`configMapRef`), each watched on its own: a list and watch
// scoped by `fieldSelector=metadata.name=<name>` in its namespace, so only that object is ever
// sent. A change (the root replaced, the key removed, the ConfigMap deleted) is reported at once, and
// the reader re-reads from the watch's cache, never from the apiserver. RBAC: list and watch on
// configmaps in the namespaces TrustRoots may use (the chart grants its own namespace plus those
// listed in values); a namespace not granted shows as KUBE_CONFIGMAP_UNREADABLE in the status.
import { SigwardError, describeError } from '../errors.ts';
import { KubeApiError } from './client/errors.ts';
import type { KubeClient } from './client/http.ts';
import type { ConfigMap } from './client/resources.ts';
import { ResourceInformer } from './informer.ts';
import type { BackoffSettings } from './informer.ts';

export interface ConfigMapRef {
  /** Undefined: sigward's own namespace. */
  readonly namespace: string | undefined;
  readonly name: string;
  readonly key: string;
}

export interface ConfigMapWatchOptions {
  /** Where a ref without a namespace looks (sigward's own namespace). */
  readonly defaultNamespace: string;
  /** A watched ConfigMap was added, changed or deleted. */
  readonly changed?: () => void;
  readonly failed?: (where: string, error: unknown, retryInMs: number) => void;
  readonly backoff?: BackoffSettings;
}

interface Watched {
  readonly informer: ResourceInformer<ConfigMap>;
  readonly started: Promise<void>;
  /** The last list or watch error, if any. */
  error(): unknown;
}

export class ConfigMapWatch {
  readonly #client: KubeClient;
  readonly #options: ConfigMapWatchOptions;
  readonly #watched = new Map<string, Watched>();

  constructor(client: KubeClient, options: ConfigMapWatchOptions) {
    this.#client = client;
    this.#options = options;
  }

  /** Watches exactly these ConfigMaps from now on (new ones start, unreferenced ones stop). */
  track(refs: readonly ConfigMapRef[]): void {
    const wanted = new Set(refs.map((r) => this.where(r)));
    for (const [where, watched] of this.#watched) {
      if (wanted.has(where)) continue;
      this.#watched.delete(where);
      void watched.informer.stop();
    }
    for (const where of wanted) if (!this.#watched.has(where)) this.#watch(where);
  }

  /** The key's text as last seen by the watch. Throws KUBE_CONFIGMAP_UNREADABLE / _KEY_MISSING. */
  async read(ref: ConfigMapRef): Promise<string> {
    const where = this.where(ref);
    let watched = this.#watched.get(where);
    if (watched === undefined) {
      this.#watch(where);
      watched = this.#watched.get(where)!;
    }
    await watched.started;
    if (!watched.informer.synced || watched.informer.failing)
      throw new SigwardError(
        'KUBE_CONFIGMAP_UNREADABLE',
        `configmap ${where} could not be read: ${apiReason(watched.error())}`,
        { cause: watched.error() },
      );
    const [configMap] = watched.informer.list();
    if (configMap === undefined)
      throw new SigwardError('KUBE_CONFIGMAP_UNREADABLE', `configmap ${where} does not exist`);
    const value = configMap.data?.[ref.key];
    if (value === undefined)
      throw new SigwardError('KUBE_CONFIGMAP_KEY_MISSING', `configmap ${where} has no key ${ref.key}`);
    return value;
  }

  async stop(): Promise<void> {
    const all = [...this.#watched.values()];
    this.#watched.clear();
    await Promise.all(all.map((w) => w.informer.stop()));
  }

  /** `namespace/name`, a ref without a namespace in sigward's own. */
  where(ref: ConfigMapRef): string {
    return `${ref.namespace ?? this.#options.defaultNamespace}/${ref.name}`;
  }

  #watch(where: string): void {
    const [namespace = '', name = ''] = where.split('/');
    const fieldSelector = `metadata.name=${name}`;
    let lastError: unknown;
    const informer = new ResourceInformer<ConfigMap>(
      this.#client,
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`,
      {
        changed: () => {
          if (this.#watched.get(where)?.informer === informer) this.#options.changed?.();
        },
        failed: (error, retryInMs) => {
          lastError = error;
          this.#options.failed?.(where, error, retryInMs);
        },
      },
      this.#options.backoff,
      { fieldSelector },
    );
    const started = informer.start().catch((error: unknown) => {
      lastError = error;
    });
    this.#watched.set(where, { informer, started, error: () => lastError });
  }
}

// The status and the apiserver's own message ("configmaps is forbidden: …"), without the request line.
function apiReason(error: unknown): string {
  if (error === undefined) return 'not listed yet';
  if (!(error instanceof KubeApiError)) return describeError(error);
  return `HTTP ${error.status}: ${error.apiMessage}`;
}
