// One resource kind, listed and then watched from the list's resourceVersion (bookmarks asked for, so a
// quiet watch still moves its resourceVersion on), the objects kept in memory. A watch the apiserver ends
// (its timeoutSeconds) resumes from the last resourceVersion; one refused with 410 Gone (that version
// fell out of the apiserver's window) re-lists at once. Any other list or watch failure is reported and
// retried with exponential backoff and jitter, so an apiserver outage heals by itself. `synced` turns
// true after the first successful list and stays true through later errors (the last listed objects
// keep serving; the informer catches up when it reconnects). Lists are paged.
import type { KubeClient } from './client/http.ts';
import { statusOf } from './client/errors.ts';
import type { KubeList, KubeObject } from './client/resources.ts';

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

/** Objects per list page. */
const PAGE = 500;
/** A watch asks the apiserver to end it after 5–10 minutes (client-go's spread), then resumes. */
const WATCH_MIN_SECONDS = 300;

const keyOf = (o: KubeObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class ResourceInformer<T extends KubeObject> {
  readonly #client: KubeClient;
  readonly #path: string;
  readonly #events: InformerEvents<T>;
  readonly #scope: InformerScope;
  readonly #initialMs: number;
  readonly #maxMs: number;
  #objects = new Map<string, T>();
  #resourceVersion = '';
  #failures = 0;
  #synced = false;
  #failing = false;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #watch: AbortController | undefined;
  /** Bumped by stop(): a watch loop of an earlier start ends rather than run beside the new one. */
  #generation = 0;

  constructor(
    client: KubeClient,
    path: string,
    events: InformerEvents<T>,
    backoff: BackoffSettings = {},
    scope: InformerScope = {},
  ) {
    this.#client = client;
    this.#path = path;
    this.#events = events;
    this.#scope = scope;
    this.#initialMs = backoff.initialMs ?? 500;
    this.#maxMs = backoff.maxMs ?? 30_000;
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Between a list or watch error and the next successful list: what list() shows may be stale. */
  get failing(): boolean {
    return this.#failing;
  }

  list(): readonly T[] {
    return [...this.#objects.values()];
  }

  /** One object by namespace ('' for cluster-scoped) and name, without copying the list. */
  get(namespace: string, name: string): T | undefined {
    return this.#objects.get(`${namespace}/${name}`);
  }

  /** Lists (resolves after that first attempt, successful or not) and then watches in the background. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#generation++;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watch?.abort();
    this.#watch = undefined;
  }

  async #run(): Promise<void> {
    if (this.#resourceVersion === '') {
      try {
        await this.#relist();
      } catch (error) {
        this.#onError(error);
        return;
      }
    }
    if (this.#stopped) return;
    // Synced only once the watch is open: nothing that happens after the list can be missed.
    const watching = await new Promise<boolean>((resolve) => void this.#watchLoop(resolve));
    if (!watching || this.#stopped) return;
    this.#failures = 0;
    this.#failing = false;
    if (!this.#synced) {
      this.#synced = true;
      this.#events.changed();
    }
  }

  async #relist(): Promise<void> {
    const items: T[] = [];
    let resourceVersion: string;
    let next: string | undefined;
    do {
      const page: KubeList<T> = await this.#client.request('GET', this.#path, {
        query: { limit: PAGE, fieldSelector: this.#scope.fieldSelector, continue: next },
      });
      items.push(...page.items);
      resourceVersion = page.metadata?.resourceVersion ?? '';
      next = page.metadata?.continue || undefined;
    } while (next !== undefined && !this.#stopped);
    if (this.#stopped) return;
    const before = this.#objects;
    this.#objects = new Map(items.map((o) => [keyOf(o), o]));
    this.#resourceVersion = resourceVersion;
    for (const [key, old] of before) if (!this.#objects.has(key)) this.#emit('delete', old);
    for (const [key, object] of this.#objects) {
      const old = before.get(key);
      if (old === undefined) this.#emit('add', object);
      else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion)
        this.#emit('update', object);
    }
  }

  /** Watches until stopped or failed; `opened` hears whether the first watch opened. */
  async #watchLoop(opened: (watching: boolean) => void): Promise<void> {
    let told = false;
    const tell = (watching: boolean): void => {
      if (told) return;
      told = true;
      opened(watching);
    };
    const generation = this.#generation;
    while (!this.#stopped && generation === this.#generation) {
      const controller = new AbortController();
      this.#watch = controller;
      const timeoutSeconds = WATCH_MIN_SECONDS + Math.floor(Math.random() * WATCH_MIN_SECONDS);
      const started = performance.now();
      let events = 0;
      try {
        await this.#client.watch(
          this.#path,
          {
            resourceVersion: this.#resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds,
            fieldSelector: this.#scope.fieldSelector,
          },
          (event) => {
            events++;
            const object = event.object as T;
            const rv = object.metadata?.resourceVersion;
            if (event.type === 'ADDED' || event.type === 'MODIFIED') {
              const key = keyOf(object);
              const known = this.#objects.has(key);
              this.#objects.set(key, object);
              this.#emit(known ? 'update' : 'add', object);
            } else if (event.type === 'DELETED') {
              const key = keyOf(object);
              if (this.#objects.delete(key)) this.#emit('delete', object);
            }
            if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
          },
          controller.signal,
          (timeoutSeconds + 30) * 1000,
          () => tell(true),
        );
        // Ended at once with nothing to say (a proxy cutting watches): back off rather than spin.
        if (!this.#stopped && events === 0 && performance.now() - started < 1000) {
          tell(false);
          this.#onError(new Error(`the watch of ${this.#path} ended at once`));
          return;
        }
      } catch (error) {
        if (this.#stopped) return tell(false);
        if (statusOf(error) !== 410) {
          tell(false);
          this.#onError(error);
          return;
        }
        // 410 Gone: the resourceVersion is too old to resume from; list again.
        try {
          await this.#relist();
        } catch (listError) {
          this.#resourceVersion = '';
          tell(false);
          this.#onError(listError);
          return;
        }
      }
    }
    tell(false);
  }

  #emit(verb: 'add' | 'update' | 'delete', object: T): void {
    this.#events.object?.(verb, object);
    this.#events.changed();
  }

  #onError(error: unknown): void {
    if (this.#stopped) return;
    this.#failing = true;
    const base = Math.min(this.#maxMs, this.#initialMs * 2 ** this.#failures);
    const retryInMs = Math.round(base / 2 + Math.random() * (base / 2));
    this.#failures++;
    this.#events.failed?.(error, retryInMs);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) void this.#run();
    }, retryInMs);
    this.#timer.unref();
  }
}
