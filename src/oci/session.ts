// One authenticated request to a registry's /v2/ API: sends the cached Authorization for the scopes,
// answers one 401 challenge, and sends again. Status handling is the caller's.
import type { Authenticator, Scope } from './authenticator.ts';
import type { HttpMethod, HttpResponse, HttpTransport } from './http.ts';
import { SigwardError } from '../errors.ts';
import { isLoopbackHostname, steeredToLoopback } from './plain-http.ts';

export interface RegistryRequest {
  readonly registry: string;
  readonly scopes: readonly Scope[];
  readonly method: HttpMethod;
  /** A path under the registry (`/v2/…`, may carry a query) or an absolute URL (upload Location). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
}

/** Challenges answered for one request: enough for a pull secret, a docker config and a cloud exchange. */
const maxChallengeRounds = 4;

export class Session {
  readonly transport: HttpTransport;
  readonly #authenticator: Authenticator;

  constructor(transport: HttpTransport, authenticator: Authenticator) {
    this.transport = transport;
    this.#authenticator = authenticator;
  }

  /** The URL of a path on a registry, with the scheme the transport allows. */
  url(registry: string, path: string, base: URL = this.transport.registryUrl(registry)): URL {
    let url: URL;
    try {
      url = new URL(path, base);
    } catch {
      throw new SigwardError('REGISTRY_PROTOCOL', `${registry} gave an invalid URL`, {
        details: { registry },
      });
    }
    // An upload Location may point elsewhere; the transport keeps credentials to the registry's origin.
    return url;
  }

  async send(request: RegistryRequest): Promise<HttpResponse> {
    const registryUrl = this.transport.registryUrl(request.registry);
    const url = this.url(request.registry, request.path, registryUrl);
    const registryOrigin = registryUrl.origin;
    // A registry named elsewhere than loopback never leads sigward onto loopback (but to its endpoint).
    const confined =
      this.transport.hasEndpoint(request.registry) || !isLoopbackHostname(registryUrl.hostname);
    if (confined && steeredToLoopback(url, registryOrigin))
      throw new SigwardError(
        'REGISTRY_PROTOCOL',
        `${request.registry} gave a URL on ${url.host}, a loopback address: refused, a registry elsewhere may not lead sigward to its own host's ports (serve the content from the registry's own origin or another host)`,
        {
          details: { registry: request.registry },
        },
      );
    const base = {
      method: request.method,
      url,
      ...(confined ? { registryOrigin } : {}),
      ...(request.headers === undefined ? {} : { headers: request.headers }),
      ...(request.body === undefined ? {} : { body: request.body }),
      maxBytes: request.maxBytes,
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    };
    // Credentials go to the registry's own origin only, even when an upload URL names another host.
    const toRegistry = url.origin === registryOrigin;
    const cached = toRegistry ? this.#authenticator.cached(request.registry, request.scopes) : undefined;
    const first = await this.transport.request({
      ...base,
      ...(cached === undefined ? {} : { authorization: cached }),
    });
    if (first.status !== 401 || !toRegistry) return first;
    // Each refused Authorization is answered by the next candidate (a stale pull secret, then the
    // cloud exchange), a bounded number of times, never sending one twice.
    const refused = new Set<string>(cached === undefined ? [] : [cached]);
    let response = first;
    let rejected = cached;
    for (let round = 0; round < maxChallengeRounds; round++) {
      const authorization = await this.#authenticator.authorize({
        registry: request.registry,
        scopes: request.scopes,
        challenge: response.headers['www-authenticate'],
        ...(rejected === undefined ? {} : { rejected }),
        refusedBefore: refused,
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });
      response = await this.transport.request({ ...base, authorization });
      if (response.status !== 401) return response;
      refused.add(authorization);
      rejected = authorization;
    }
    return response;
  }
}
