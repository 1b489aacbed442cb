// A token bucket: `burst` tokens at most, refilled at `perSecond`; take() spends one if there is one.
// The clock is injected so a test can move time instead of waiting for it.
export interface TokenBucketOptions {
  readonly burst: number;
  readonly perSecond: number;
  /** Milliseconds, monotonic (default performance.now). */
  readonly now?: () => number;
}

export class TokenBucket {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(options: TokenBucketOptions) {
    this.#burst = options.burst;
    this.#perMs = options.perSecond / 1000;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = options.burst;
    this.#at = this.#now();
  }

  /** Spends one token; false when the bucket is empty (the caller drops what it wanted to do). */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until take() can succeed (0: now), for a caller that waits instead of dropping. */
  msUntilToken(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : (1 - this.#tokens) / this.#perMs;
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#at) * this.#perMs);
    this.#at = now;
  }
}
