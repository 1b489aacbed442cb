// Which registries answered that they have no OCI 1.1 referrers API. A registry without it (Debian's
// docker-registry, GHCR, older Harbor) answers every referrers request 404; remembering that for a while
// saves one request per discovery there. The memory expires (default 5 min) so a registry upgraded
// to serve the API is asked again soon, and a 404 naming an unknown repository is not remembered
// (it says nothing about the API).
export const DEFAULT_REFERRERS_MEMORY_MS = 5 * 60 * 1000;

export class ReferrersSupport {
  readonly #missingUntil = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_REFERRERS_MEMORY_MS;
    this.#now = options.now ?? Date.now;
  }

  /** True while `registry` is remembered as having no referrers API. */
  knownMissing(registry: string): boolean {
    const until = this.#missingUntil.get(registry);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#missingUntil.delete(registry);
    return false;
  }

  recordMissing(registry: string): void {
    // Bounded by the registries this process talks to; expired entries are dropped when read.
    this.#missingUntil.set(registry, this.#now() + this.#ttlMs);
  }

  recordPresent(registry: string): void {
    this.#missingUntil.delete(registry);
  }
}
