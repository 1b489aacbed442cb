// Which registries answered that they have, or lack, the OCI 1.1 referrers API. A registry without it
// (Debian's docker-registry, GHCR, older Harbor) answers every referrers request 404; remembering that
// for a while saves one request per discovery there. A registry that served it is not asked for the
// fallback tag beside it (discovery reads that tag only where the API is missing, as the distribution
// spec and cosign do). The memory expires (default 5 min) so a registry upgraded to serve the API, or
// one that stopped, is seen again soon; a 404 naming an unknown repository is not remembered (it says
// nothing about the API).
export const DEFAULT_REFERRERS_MEMORY_MS = 5 * 60 * 1000;

export class ReferrersSupport {
  readonly #missingUntil = new Map<string, number>();
  readonly #presentUntil = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_REFERRERS_MEMORY_MS;
    this.#now = options.now ?? Date.now;
  }

  /** True while `registry` is remembered as having no referrers API. */
  knownMissing(registry: string): boolean {
    return this.#remembered(this.#missingUntil, registry);
  }

  /** True while `registry` is remembered as serving the referrers API. */
  knownPresent(registry: string): boolean {
    return this.#remembered(this.#presentUntil, registry);
  }

  recordMissing(registry: string): void {
    // Bounded by the registries this process talks to; expired entries are dropped when read.
    this.#presentUntil.delete(registry);
    this.#missingUntil.set(registry, this.#now() + this.#ttlMs);
  }

  recordPresent(registry: string): void {
    this.#missingUntil.delete(registry);
    this.#presentUntil.set(registry, this.#now() + this.#ttlMs);
  }

  #remembered(memory: Map<string, number>, registry: string): boolean {
    const until = memory.get(registry);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    memory.delete(registry);
    return false;
  }
}
