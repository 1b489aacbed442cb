// Answers a registry's 401 challenge (distribution token auth, or Basic) with the credentials of a
// Keychain, and keeps the resulting Authorization per registry, scope and credential until it expires.
// Tokens and passwords stay in memory: no error, detail or log line ever holds one.
import { SigwardError } from '../errors.ts';
import type { ExchangedCredential, Keychain, ObtainedCredential, RegistryCredential } from './auth.ts';
import { parseChallenges, pickChallenge, type Challenge } from './challenge.ts';
import type { HttpTransport } from './http.ts';
import { cacheKey, type Scope, type TokenCache } from './token-cache.ts';
import { basicAuthorization, fetchToken } from './token-service.ts';

export { TokenCache, scopeString, type Scope, type TokenCacheOptions } from './token-cache.ts';

type ConcreteCredential = Exclude<RegistryCredential, ExchangedCredential>;

/** How long a Basic authorization is reused without a new challenge. */
const basicLifetimeMs = 60 * 60 * 1000;

export interface AuthorizeRequest {
  readonly registry: string;
  readonly scopes: readonly Scope[];
  /** The WWW-Authenticate header(s) of the 401. */
  readonly challenge: string | readonly string[] | undefined;
  /** The Authorization the registry just refused, dropped from the cache. */
  readonly rejected?: string;
  /** Authorizations refused earlier for this same request: never offered again. */
  readonly refusedBefore?: ReadonlySet<string>;
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
    const refused = new Set<string>();
    if (request.rejected !== undefined) {
      for (const credential of candidates) {
        const key = cacheKey(registry, scopes, credential);
        if (this.#cache.get(key) === request.rejected) {
          this.#cache.delete(key);
          refused.add(key);
        }
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
    for (const candidate of candidates) {
      const key = cacheKey(registry, scopes, candidate);
      // The registry refused what this exchange gave before: a cached answer will not do.
      const refresh = request.rejected !== undefined && refused.has(key);
      try {
        let answer: string | undefined;
        if (candidate?.kind !== 'exchange') {
          answer = await this.#answer(request, challenge, key, candidate, undefined);
        } else {
          const obtain = (fresh: boolean) =>
            untilAborted(
              candidate.obtain({
                refresh: fresh,
                ...(request.signal === undefined ? {} : { signal: request.signal }),
              }),
              request.signal,
            );
          const obtained = await obtain(refresh);
          try {
            answer = await this.#answerExchanged(request, challenge, key, obtained);
          } catch (error) {
            // The token service refused what an exchange gave from its cache (revoked, or expired
            // before its announced time): one fresh exchange before giving up on this candidate.
            const refusal = error instanceof SigwardError && error.code === 'REGISTRY_UNAUTHORIZED';
            if (refresh || !refusal) throw error;
            answer = await this.#answerExchanged(request, challenge, key, await obtain(true));
          }
        }
        if (answer !== undefined) return answer;
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

  /**
   * The Authorization an exchange's credentials give: an exchange may yield several (tried in order,
   * each cached under its own key) or none (a helper with nothing for this registry: anonymous, as
   * docker does). Throws the last refusal when every one was refused.
   */
  async #answerExchanged(
    request: AuthorizeRequest,
    challenge: Challenge,
    key: string,
    obtained: ObtainedCredential | readonly ObtainedCredential[],
  ): Promise<string | undefined> {
    const list: readonly ObtainedCredential[] = Array.isArray(obtained)
      ? obtained
      : [obtained as ObtainedCredential];
    if (list.length === 0) return this.#answer(request, challenge, key, undefined, undefined);
    let lastRefusal: unknown;
    for (const [index, one] of list.entries()) {
      const oneKey = index === 0 ? key : `${key}\n#${index}`;
      try {
        const answer = await this.#answer(request, challenge, oneKey, one.credential, one.expiresAt);
        if (answer !== undefined) return answer;
      } catch (error) {
        if (!(error instanceof SigwardError) || error.code !== 'REGISTRY_UNAUTHORIZED') throw error;
        lastRefusal = error;
      }
    }
    if (lastRefusal !== undefined) throw lastRefusal;
    return undefined;
  }

  /**
   * The Authorization one concrete credential gives for this challenge, or undefined when it cannot
   * answer it (or gives what was just refused). `expiresAt` caps how long the result is kept.
   */
  async #answer(
    request: AuthorizeRequest,
    challenge: Challenge,
    key: string,
    credential: ConcreteCredential | undefined,
    expiresAt: number | undefined,
  ): Promise<string | undefined> {
    const { registry, scopes } = request;
    const lifetime = (ms: number): number =>
      expiresAt === undefined ? ms : Math.min(ms, expiresAt - this.#cache.now());
    if (challenge.scheme === 'basic') {
      if (credential?.kind !== 'basic') return undefined;
      const authorization = basicAuthorization(credential.username, credential.password);
      if (authorization === request.rejected || request.refusedBefore?.has(authorization)) return undefined;
      // A credential already past its announced expiry is tried once, never kept.
      if (lifetime(basicLifetimeMs) > 0) this.#cache.set(key, authorization, lifetime(basicLifetimeMs));
      return authorization;
    }
    if (credential?.kind === 'registry-token') {
      const authorization = `Bearer ${credential.token}`;
      const refused = authorization === request.rejected || request.refusedBefore?.has(authorization);
      return refused === true ? undefined : authorization;
    }
    // Another request may have fetched it while this one waited for its 401.
    const fresh = this.#cache.get(key);
    if (fresh !== undefined && fresh !== request.rejected) return fresh;
    let fetching = this.#inflight.get(key);
    if (fetching === undefined) {
      // Not bound to this caller's signal: another caller may still want it. The transport's own
      // request timeout bounds it.
      fetching = fetchToken(this.#transport, registry, scopes, challenge, credential).then((result) => {
        if (lifetime(result.lifetimeMs) > 0) {
          this.#cache.set(key, `Bearer ${result.token}`, lifetime(result.lifetimeMs));
        }
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
