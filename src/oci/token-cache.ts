// Authorizations kept between requests, by registry, scopes and credential (a hash of it, so two pull
// secrets never share a token), until the lifetime the token service announced runs out.
import { createHash } from 'node:crypto';
import type { RegistryCredential } from './auth.ts';

/** Access wanted on one repository; the token endpoint gets `repository:<name>:<actions>`. */
export interface Scope {
  readonly repository: string;
  readonly actions: readonly ('pull' | 'push')[];
}

export function scopeString(scope: Scope): string {
  return `repository:${scope.repository}:${scope.actions.join(',')}`;
}

export interface TokenCacheOptions {
  /** Clock, for tests of expiry. */
  now?: () => number;
  maxEntries?: number;
}

/**
 * Authorizations by registry + scopes + credential (a hash of it, so two pull secrets never share a
 * token). Shared by every client of a process.
 */
export class TokenCache {
  readonly #entries = new Map<string, { authorization: string; expiresAt: number }>();
  readonly #now: () => number;
  readonly #maxEntries: number;

  constructor(options: TokenCacheOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 1000;
  }

  now(): number {
    return this.#now();
  }

  get(key: string): string | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.authorization;
  }

  set(key: string, authorization: string, lifetimeMs: number): void {
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { authorization, expiresAt: this.#now() + lifetimeMs });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

export function credentialId(credential: RegistryCredential | undefined): string {
  if (credential === undefined) return 'anonymous';
  // What an exchange yields changes over time; its source's id is what stays the same.
  if (credential.kind === 'exchange') return `exchange:${credential.id}`;
  return createHash('sha256').update(JSON.stringify(credential)).digest('hex').slice(0, 32);
}

export function cacheKey(
  registry: string,
  scopes: readonly Scope[],
  credential: RegistryCredential | undefined,
): string {
  return [registry, scopes.map(scopeString).sort().join(' '), credentialId(credential)].join('\n');
}
