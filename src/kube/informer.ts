// One resource kind, listed and watched through @kubernetes/client-node's informer. The library stops
// on a list or watch error and leaves the restart to us: we restart it with exponential backoff and
// jitter (a re-list when the watch's resourceVersion expired), so an apiserver outage heals by
// itself. `synced` turns true after the first successful list and stays true through later errors
// (the last listed objects keep serving; the informer catches up when it reconnects).
import { ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';

export interface InformerEvents<T = unknown> {
  /** Something was added, updated or deleted (also after a re-list). */
  changed(): void;
  /** The object itself, before changed(), for a consumer that works per object (the Pod re-check). */
  object?(verb: 'add' | 'update' | 'delete', object: T): void;
  /** A list or watch failed; the informer restarts after `retryInMs`. */
  failed?(error: unknown, retryInMs: number): void;
}

export interface BackoffSettings {
  readonly initialMs?: number;
  readonly maxMs?: number;
}

export interface InformerScope {
  /** Watch only what matches, e.g. `metadata.name=x` (RBAC can then be scoped to that name). */
  readonly fieldSelector?: string;
}

export class ResourceInformer<T extends KubernetesObject> {
  readonly #informer: ListWatch<T>;
  readonly #events: InformerEvents<T>;
  readonly #initialMs: number;
  readonly #maxMs: number;
  #failures = 0;
  #synced = false;
  #failing = false;
  #stopped = false;
  #erroredDuringStart = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    kubeConfig: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    events: InformerEvents<T>,
    backoff: BackoffSettings = {},
    scope: InformerScope = {},
  ) {
    this.#events = events;
    this.#initialMs = backoff.initialMs ?? 500;
    this.#maxMs = backoff.maxMs ?? 30_000;
    this.#informer = new ListWatch<T>(
      path,
      new Watch(kubeConfig),
      list,
      false,
      undefined,
      scope.fieldSelector,
    );
    for (const verb of ['add', 'update', 'delete'] as const)
      this.#informer.on(verb, (object: T) => {
        events.object?.(verb, object);
        events.changed();
      });
    this.#informer.on('connect', () => undefined);
    this.#informer.on('error', (error: unknown) => this.#onError(error));
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Between a list or watch error and the next successful list: what list() shows may be stale. */
  get failing(): boolean {
    return this.#failing;
  }

  list(): readonly T[] {
    return this.#informer.list();
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#informer.stop();
  }

  async #run(): Promise<void> {
    this.#erroredDuringStart = false;
    await this.#informer.start();
    if (this.#stopped || this.#erroredDuringStart) return;
    this.#failures = 0;
    this.#failing = false;
    if (!this.#synced) {
      this.#synced = true;
      this.#events.changed();
    }
  }

  #onError(error: unknown): void {
    this.#erroredDuringStart = true;
    if (this.#stopped) return;
    this.#failing = true;
    const base = Math.min(this.#maxMs, this.#initialMs * 2 ** this.#failures);
    const retryInMs = Math.round(base / 2 + Math.random() * (base / 2));
    this.#failures++;
    this.#events.failed?.(error, retryInMs);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) void this.#run().catch((e: unknown) => this.#onError(e));
    }, retryInMs);
    this.#timer.unref();
  }
}
