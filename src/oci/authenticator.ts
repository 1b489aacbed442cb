// Answers a registry's 401 challenge (distribution token auth, or Basic) with the credentials of a
// Keychain, and keeps the resulting Authorization per registry, scope and credential until it expires.
// Tokens and passwords stay in memory: no error, detail or log line ever holds one.
import { createHash } from 'node:crypto';
import { SigwardError } from '../errors.ts';
import type { Keychain, RegistryCredential } from './auth.ts';
import { parseChallenges, pickChallenge, type Challenge } from './challenge.ts';
import { header, type HttpTransport } from './http.ts';
import { statusError } from './registry-errors.ts';

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

const maxTokenResponseBytes = 1024 * 1024;
/** How long a Basic authorization is reused without a new challenge. */
const basicLifetimeMs = 60 * 60 * 1000;

function credentialId(credential: RegistryCredential | undefined): string {
  if (credential === undefined) return 'anonymous';
  return createHash('sha256').update(JSON.stringify(credential)).digest('hex').slice(0, 32);
}

function cacheKey(
  registry: string,
  scopes: readonly Scope[],
  credential: RegistryCredential | undefined,
): string {
  return [registry, scopes.map(scopeString).sort().join(' '), credentialId(credential)].join('\n');
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

export interface AuthorizeRequest {
  readonly registry: string;
  readonly scopes: readonly Scope[];
  /** The WWW-Authenticate header(s) of the 401. */
  readonly challenge: string | readonly string[] | undefined;
  /** The Authorization the registry just refused, dropped from the cache. */
  readonly rejected?: string;
  readonly signal?: AbortSignal;
}

export class Authenticator {
  readonly #transport: HttpTransport;
  readonly #keychain: Keychain;
  readonly #cache: TokenCache;
  /** Token fetches under way, by cache key: concurrent requests for one scope share one fetch. */
  readonly #inflight = new Map<string, Promise<{ token: string; lifetimeMs: number }>>();

  constructor(transport: HttpTransport, keychain: Keychain, cache: TokenCache) {
    this.#transport = transport;
    this.#keychain = keychain;
    this.#cache = cache;
  }

  #candidates(registry: string, scopes: readonly Scope[]): readonly (RegistryCredential | undefined)[] {
    const found = this.#keychain.credentialsFor(registry, scopes[0]?.repository ?? '');
    return found.length === 0 ? [undefined] : found;
  }

  /** A cached Authorization for these scopes, to send before any challenge. */
  cached(registry: string, scopes: readonly Scope[]): string | undefined {
    for (const credential of this.#candidates(registry, scopes)) {
      const hit = this.#cache.get(cacheKey(registry, scopes, credential));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }

  /**
   * An Authorization that answers the challenge: a token from the realm (each candidate credential in
   * turn until one is accepted) or Basic. Throws REGISTRY_UNAUTHORIZED when nothing works.
   */
  async authorize(request: AuthorizeRequest): Promise<string> {
    const { registry, scopes } = request;
    const candidates = this.#candidates(registry, scopes);
    if (request.rejected !== undefined) {
      for (const credential of candidates) {
        const key = cacheKey(registry, scopes, credential);
        if (this.#cache.get(key) === request.rejected) this.#cache.delete(key);
      }
    }
    const challenge = pickChallenge(parseChallenges(request.challenge));
    if (challenge === undefined) {
      throw new SigwardError(
        'REGISTRY_UNAUTHORIZED',
        `${registry} refused the request without a usable challenge`,
        {
          details: { registry },
        },
      );
    }
    let lastRefusal: SigwardError | undefined;
    for (const credential of candidates) {
      const key = cacheKey(registry, scopes, credential);
      if (challenge.scheme === 'basic') {
        if (credential?.kind !== 'basic') continue;
        const authorization = basic(credential.username, credential.password);
        if (authorization === request.rejected) continue;
        this.#cache.set(key, authorization, basicLifetimeMs);
        return authorization;
      }
      if (credential?.kind === 'registry-token') {
        const authorization = `Bearer ${credential.token}`;
        if (authorization === request.rejected) continue;
        return authorization;
      }
      try {
        // Another request may have fetched it while this one waited for its 401.
        const fresh = this.#cache.get(key);
        if (fresh !== undefined && fresh !== request.rejected) return fresh;
        let fetching = this.#inflight.get(key);
        if (fetching === undefined) {
          // Not bound to this caller's signal: another caller may still want it. The transport's own
          // request timeout bounds it.
          fetching = this.#fetchToken(registry, scopes, challenge, credential).then((result) => {
            this.#cache.set(key, `Bearer ${result.token}`, result.lifetimeMs);
            return result;
          });
          const forget = (): void => {
            this.#inflight.delete(key);
          };
          fetching.then(forget, forget);
          this.#inflight.set(key, fetching);
        }
        const { token } = await untilAborted(fetching, request.signal);
        return `Bearer ${token}`;
      } catch (error) {
        if (
          !(error instanceof SigwardError) ||
          !['REGISTRY_UNAUTHORIZED', 'REGISTRY_DENIED'].includes(error.code)
        ) {
          throw error;
        }
        lastRefusal = error;
      }
    }
    const why =
      lastRefusal !== undefined
        ? lastRefusal.message
        : challenge.scheme === 'basic'
          ? 'it asks for Basic credentials and none apply'
          : 'no credential was accepted';
    throw new SigwardError('REGISTRY_UNAUTHORIZED', `${registry} refused access: ${why}`, {
      details: { registry, scheme: challenge.scheme },
      ...(lastRefusal === undefined ? {} : { cause: lastRefusal }),
    });
  }

  async #fetchToken(
    registry: string,
    scopes: readonly Scope[],
    challenge: Challenge,
    credential: RegistryCredential | undefined,
  ): Promise<{ token: string; lifetimeMs: number }> {
    const realm = challenge.params['realm'];
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      throw new SigwardError(
        'REGISTRY_PROTOCOL',
        `${registry} sent a Bearer challenge without a valid realm`,
        {
          details: { registry },
        },
      );
    }
    const service = challenge.params['service'];
    const scopeStrings = scopes.map(scopeString);
    let response;
    if (credential?.kind === 'identity-token') {
      // OAuth2 refresh-token grant, as `docker login` identity tokens require.
      const form = new URLSearchParams({ grant_type: 'refresh_token', client_id: 'sigward' });
      if (service !== undefined) form.set('service', service);
      form.set('scope', scopeStrings.join(' '));
      form.set('refresh_token', credential.identityToken);
      response = await this.#transport.request({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString(), 'utf8'),
        maxBytes: maxTokenResponseBytes,
      });
    } else {
      if (service !== undefined) url.searchParams.set('service', service);
      for (const scope of scopeStrings) url.searchParams.append('scope', scope);
      if (credential?.kind === 'basic') url.searchParams.set('account', credential.username);
      response = await this.#transport.request({
        method: 'GET',
        url,
        ...(credential?.kind === 'basic'
          ? { authorization: basic(credential.username, credential.password) }
          : {}),
        maxBytes: maxTokenResponseBytes,
      });
    }
    if (response.status !== 200) throw statusError(response, 'token request', `token service of ${registry}`);
    return parseTokenResponse(response.body, registry, header(response, 'content-type'));
  }
}

/** The promise's outcome, or REGISTRY_ABORTED as soon as the caller's signal fires. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  const aborted = (): SigwardError =>
    new SigwardError('REGISTRY_ABORTED', 'a token request was abandoned by its caller', {
      cause: signal.reason,
    });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function parseTokenResponse(
  body: Uint8Array,
  registry: string,
  _contentType: string | undefined,
): { token: string; lifetimeMs: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const token = record['token'] ?? record['access_token'];
  if (typeof token !== 'string' || token.length === 0 || /[\s]/.test(token)) {
    throw new SigwardError('REGISTRY_PROTOCOL', `the token service of ${registry} returned no usable token`, {
      details: { registry },
    });
  }
  const expiresIn = record['expires_in'];
  // The distribution spec's default and minimum is 60 s; renew a little before the registry would refuse.
  const seconds = typeof expiresIn === 'number' && Number.isFinite(expiresIn) ? Math.max(expiresIn, 60) : 60;
  return { token, lifetimeMs: seconds * 900 };
}
