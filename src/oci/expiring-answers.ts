// Answers obtained on demand and kept until a deadline, with one run at a time per key: the mechanism
// every lazily-obtained registry credential shares (cloud exchanges, docker credential helpers,
// kubelet credential provider plugins). Each caller decides what its answers are, how long one is kept
// and under which key; this holds them, bounds their number, and lets concurrent askers share a run.

export interface ExpiringAnswersOptions {
  /** Answers kept at most; when full, expired ones go first, then the oldest kept. */
  readonly maxEntries: number;
  readonly now?: () => number;
}

interface Kept<T> {
  readonly answer: T;
  /** The first instant the answer is no longer used. */
  readonly staleAt: number;
}

export class ExpiringAnswers<T> {
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #kept = new Map<string, Kept<T>>();
  readonly #running = new Map<string, Promise<T>>();

  constructor(options: ExpiringAnswersOptions) {
    this.#maxEntries = options.maxEntries;
    this.#now = options.now ?? Date.now;
  }

  now(): number {
    return this.#now();
  }

  /** The answer kept under the key, unless it is stale (then it is dropped). */
  kept(key: string): T | undefined {
    const entry = this.#kept.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() < entry.staleAt) return entry.answer;
    this.#kept.delete(key);
    return undefined;
  }

  /** Keeps an answer until `staleAt`; one already stale is not kept. */
  keep(key: string, answer: T, staleAt: number): void {
    const now = this.#now();
    if (staleAt <= now) return;
    if (!this.#kept.has(key) && this.#kept.size >= this.#maxEntries) {
      for (const [k, entry] of this.#kept) if (entry.staleAt <= now) this.#kept.delete(k);
      if (this.#kept.size >= this.#maxEntries) {
        const oldest = this.#kept.keys().next();
        if (oldest.done !== true) this.#kept.delete(oldest.value);
      }
    }
    this.#kept.set(key, { answer, staleAt });
  }

  forget(key: string): void {
    this.#kept.delete(key);
  }

  /**
   * The run in progress under the key, or `run` started now and shared by every caller until it
   * settles. The run keeps its own answer (with `keep`), once, however many callers wait for it.
   */
  shared(key: string, run: () => Promise<T>): Promise<T> {
    let running = this.#running.get(key);
    if (running === undefined) {
      running = run().finally(() => this.#running.delete(key));
      this.#running.set(key, running);
    }
    return running;
  }
}
