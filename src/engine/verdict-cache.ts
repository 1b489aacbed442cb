// The result caches of the engine, both bounded (lru-cache, entries and TTL):
//  - verdicts, keyed by (repository, digest, policy, policy generation, trust-root version): a policy
//    or trust-root change makes a new key, so a stale verdict is never served. Only definite verdicts
//    are stored (verified, or a definite refusal: unsigned, wrong identity, bad signature), with their
//    own TTLs; registry errors and timeouts never are.
//  - attestation outcomes (authorities with `attestations`: their conditions already run), keyed the
//    same way plus the attestation set, under the same rules; one whose condition reads `now` is kept
//    no longer than a refusal. Counted apart (cache="attestation") and sized apart;
//  - tag → digest resolutions, briefly (a tag may move; the digest is what gets verified).
// Concurrent misses for one key share ONE computation (single-flight), whatever its outcome.
// The verdict and attestation caches are keyed by a sha256 (verify-policy.ts verdictKey) and kept in a
// DigestKeyedLru (raw key bytes in typed arrays, ~60 bytes an entry); the digest cache, keyed by text,
// in lru-cache.
import { LRUCache } from 'lru-cache';
import { DigestKeyedLru } from './digest-keyed-lru.ts';

export type CacheName = 'verdict' | 'attestation' | 'digest';
export type LookupResult = 'hit' | 'miss' | 'shared';

/** Caches whose keys are sha256 digests as 32-character one-byte strings (verify-policy.ts verdictKey). */
const KEYED_BY_DIGEST: Readonly<Record<CacheName, boolean>> = {
  verdict: true,
  attestation: true,
  digest: false,
};

/** What a cache keeps its entries in: recency, a bound and a TTL per entry. */
interface EntryStore<V> {
  readonly size: number;
  get(key: string): V | undefined;
  set(key: string, value: V, options: { ttl: number }): unknown;
  clear(): void;
}

export interface CacheObserver {
  lookup(cache: CacheName, result: LookupResult): void;
}

export interface CacheSettings {
  /** Most verdicts kept. Default 10,000. */
  readonly maxVerdicts?: number;
  /** Most attestation outcomes kept (one per image digest, policy and attestation set). Default 10,000. */
  readonly maxAttestations?: number;
  /** How long a verified verdict stays. Default 1 h. */
  readonly positiveTtlMs?: number;
  /** How long a definite refusal stays (unsigned, wrong identity). Default 60 s. */
  readonly negativeTtlMs?: number;
  /** Most tag → digest resolutions kept. Default 10,000. */
  readonly maxDigests?: number;
  /** How long a tag → digest resolution stays. Default 10 s. */
  readonly digestTtlMs?: number;
}

export const DEFAULT_CACHE_SETTINGS: Required<CacheSettings> = {
  maxVerdicts: 10_000,
  maxAttestations: 10_000,
  positiveTtlMs: 60 * 60 * 1000,
  negativeTtlMs: 60 * 1000,
  maxDigests: 10_000,
  digestTtlMs: 10 * 1000,
};

/**
 * A bounded cache whose misses are computed once: concurrent callers for one key share the promise.
 * `ttlOf` says how long a computed value stays (undefined or 0: not stored, e.g. an error verdict).
 */
export class SingleFlightCache<V extends object> {
  readonly #name: CacheName;
  readonly #entries: EntryStore<V>;
  readonly #inflight = new Map<string, Promise<V>>();
  readonly #observer: CacheObserver | undefined;

  /** `name` says the keys: a `verdict` or `attestation` cache takes only sha256 keys (32 one-byte characters). */
  constructor(name: CacheName, max: number, observer?: CacheObserver, now?: () => number) {
    this.#name = name;
    this.#observer = observer;
    this.#entries = KEYED_BY_DIGEST[name]
      ? new DigestKeyedLru<V>(max, now)
      : new LRUCache<string, V>({
          max,
          ttlAutopurge: false,
          allowStale: false,
          // The clock read on every lookup (~50 ns): lru-cache's default (1 ms) instead keeps a reading
          // alive with a new setTimeout per millisecond, timers that a cache hit paid for (~2.5 µs each).
          ttlResolution: 0,
          ...(now === undefined ? {} : { perf: { now } }),
        });
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The cached value now, or undefined when `get` must compute or wait. Not counted: a caller that
   * answers from it says so with `recordHits` (one that falls back to `get` is counted there).
   */
  peek(key: string): V | undefined {
    return this.#entries.get(key);
  }

  recordHits(count: number): void {
    for (let i = 0; i < count; i++) this.#observer?.lookup(this.#name, 'hit');
  }

  /** The cached value, or the one computation in flight, or a new computation. */
  get(key: string, compute: () => Promise<V>, ttlOf: (value: V) => number | undefined): Promise<V> {
    const cached = this.#entries.get(key);
    if (cached !== undefined) {
      this.#observer?.lookup(this.#name, 'hit');
      return Promise.resolve(cached);
    }
    const running = this.#inflight.get(key);
    if (running !== undefined) {
      this.#observer?.lookup(this.#name, 'shared');
      return running;
    }
    this.#observer?.lookup(this.#name, 'miss');
    // Started before the wrapper below: a compute that throws at once would otherwise run the
    // wrapper's `finally` before the promise is in flight, and leave its rejection there for good.
    let computing: Promise<V>;
    try {
      computing = compute();
    } catch (error) {
      computing = Promise.reject(error as Error);
    }
    const promise = (async () => {
      try {
        const value = await computing;
        const ttl = ttlOf(value);
        if (ttl !== undefined && ttl > 0) this.#entries.set(key, value, { ttl });
        return value;
      } finally {
        this.#inflight.delete(key);
      }
    })();
    this.#inflight.set(key, promise);
    return promise;
  }

  clear(): void {
    this.#entries.clear();
  }
}
