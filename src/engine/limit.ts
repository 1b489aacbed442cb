// Bounded concurrency: `mapLimit` (one implementation, in src/sigstore, which this module may import)
// over every item with at most `limit` at a time, results in order; `KeyedLimiter` per key.
export { mapLimit } from '../sigstore/map-limit.ts';

/**
 * At most `limit` tasks at a time per key (a registry host): a burst of distinct images never turns
 * into an unbounded burst of registry calls; the rest wait their turn, in order.
 */
export class KeyedLimiter {
  readonly #limit: number;
  readonly #running = new Map<string, number>();
  readonly #waiting = new Map<string, Array<() => void>>();

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    if ((this.#running.get(key) ?? 0) >= this.#limit) {
      await new Promise<void>((resolve) => {
        const queue = this.#waiting.get(key) ?? [];
        queue.push(resolve);
        this.#waiting.set(key, queue);
      });
    } else {
      this.#running.set(key, (this.#running.get(key) ?? 0) + 1);
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.get(key)?.shift();
      if (next !== undefined)
        next(); // the slot passes straight to the next task
      else {
        const left = (this.#running.get(key) ?? 1) - 1;
        if (left === 0) this.#running.delete(key);
        else this.#running.set(key, left);
        if (this.#waiting.get(key)?.length === 0) this.#waiting.delete(key);
      }
    }
  }

  /** Tasks running for this key now. */
  running(key: string): number {
    return this.#running.get(key) ?? 0;
  }
}
