// One resource kind, listed and watched through @kubernetes/client-node's informer. The library stops
// on a list or watch error and leaves the restart to us: we restart it with exponential backoff and
// jitter (a re-list when the watch's resourceVersion expired), so an apiserver outage heals by
// itself. `synced` turns true after the first successful list and stays true through later errors
// (the last listed objects keep serving; the informer catches up when it reconnects).
import { makeInformer } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';

export interface InformerEvents {
  /** Something was added, updated or deleted (also after a re-list). */
  changed(): void;
  /** A list or watch failed; the informer restarts after `retryInMs`. */
  failed?(error: unknown, retryInMs: number): void;
}

export interface BackoffSettings {
  readonly initialMs?: number;
  readonly maxMs?: number;
}

export class ResourceInformer<T extends KubernetesObject> {
  readonly #informer: ReturnType<typeof makeInformer<T>>;
  readonly #events: InformerEvents;
  readonly #initialMs: number;
  readonly #maxMs: number;
  #failures = 0;
  #synced = false;
  #stopped = false;
  #erroredDuringStart = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    kubeConfig: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    events: InformerEvents,
    backoff: BackoffSettings = {},
  ) {
    this.#events = events;
    this.#initialMs = backoff.initialMs ?? 500;
    this.#maxMs = backoff.maxMs ?? 30_000;
    this.#informer = makeInformer<T>(kubeConfig, path, list);
    const changed = (): void => events.changed();
    this.#informer.on('add', changed);
    this.#informer.on('update', changed);
    this.#informer.on('delete', changed);
    this.#informer.on('connect', () => undefined);
    this.#informer.on('error', (error: unknown) => this.#onError(error));
  }

  get synced(): boolean {
    return this.#synced;
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
    if (!this.#synced) {
      this.#synced = true;
      this.#events.changed();
    }
  }

  #onError(error: unknown): void {
    this.#erroredDuringStart = true;
    if (this.#stopped) return;
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
