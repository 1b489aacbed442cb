// The one way sigward talks HTTP to registries: undici with a connect timeout and TLS 1.2+, one deadline
// over the whole request (redirects, retries and waits included), a size cap on every body, redirects
// followed by hand so credentials never reach another origin, plain HTTP only where allowed, and
// bounded retries of 429/503 that honour Retry-After. Failures become SigwardErrors with a code.
import { setTimeout as delay } from 'node:timers/promises';
import { Agent } from 'undici';
import { SigwardError } from '../errors.ts';
import { Deadline } from '../deadline.ts';
import { exchange, type Exchanged } from './http-exchange.ts';
import { networkError } from './http-failures.ts';
import {
  header,
  parseRetryAfter,
  requestDetails,
  type Exchange,
  type HttpRequest,
  type HttpResponse,
} from './http-messages.ts';
import { registryEndpoints, type RegistryEndpoints } from './endpoints.ts';
import {
  isLoopbackHostname,
  plainHttpAllowed,
  steeredToLoopback,
  type PlainHttpPolicy,
} from './plain-http.ts';

export { header, parseRetryAfter, requestDetails, isLoopbackHostname };
export type { Exchange, HttpMethod, HttpRequest, HttpResponse } from './http-messages.ts';

export interface TransportOptions {
  /** TCP + TLS handshake limit. Default 5 s. */
  connectTimeoutMs?: number;
  /** Whole request, redirects, retries and waits included. Default 30 s. */
  requestTimeoutMs?: number;
  /** Extra attempts after a 429 or 503. Default 2. */
  maxRetries?: number;
  /** Most time spent waiting between those attempts, in total. Default 10 s. */
  maxRetryWaitMs?: number;
  /** Default 5. */
  maxRedirects?: number;
  /** Extra trusted CA certificates (PEM), e.g. a test registry's. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Registries (`host` or `host:port`) that may be reached over plain HTTP. */
  insecureRegistries?: readonly string[];
  /** Tests only: registry names served on loopback (see endpoints.ts); plain HTTP to the target. */
  registryEndpoints?: RegistryEndpoints;
  /** Loopback hosts (127.0.0.0/8, localhost, [::1]) use plain HTTP. Default true. */
  plainHttpLoopback?: boolean;
  userAgent?: string;
  /** Connections per registry origin; further requests queue. Default 16. */
  maxConnectionsPerOrigin?: number;
  /** Told of every HTTP exchange (each attempt and redirect hop), e.g. to count calls by status. */
  onExchange?: (exchange: Exchange) => void;
  /** How to wait before a retry; tests pass one that records the wait instead of sleeping. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const errorBodyLimit = 64 * 1024;

const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const retryStatuses: ReadonlySet<number> = new Set([429, 503]);

export class HttpTransport {
  readonly #agent: Agent;
  readonly #options: Required<Omit<TransportOptions, 'ca' | 'onExchange' | 'registryEndpoints'>> &
    Pick<TransportOptions, 'onExchange'>;
  readonly #plainHttp: PlainHttpPolicy;
  readonly #endpoints: RegistryEndpoints;

  constructor(options: TransportOptions = {}) {
    this.#options = {
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      maxRetries: options.maxRetries ?? 2,
      maxRetryWaitMs: options.maxRetryWaitMs ?? 10_000,
      maxRedirects: options.maxRedirects ?? 5,
      insecureRegistries: options.insecureRegistries ?? [],
      plainHttpLoopback: options.plainHttpLoopback ?? true,
      userAgent: options.userAgent ?? 'sigward',
      sleep: options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal })),
      maxConnectionsPerOrigin: options.maxConnectionsPerOrigin ?? 16,
      ...(options.onExchange === undefined ? {} : { onExchange: options.onExchange }),
    };
    // Re-checked here so no caller can map a name to anything but loopback.
    this.#endpoints = registryEndpoints(Object.fromEntries(options.registryEndpoints ?? []));
    this.#plainHttp = {
      loopback: this.#options.plainHttpLoopback,
      insecure: new Set(this.#options.insecureRegistries.map((r) => r.toLowerCase())),
    };
    const ca =
      options.ca === undefined ? undefined : Array.isArray(options.ca) ? [...options.ca] : options.ca;
    this.#agent = new Agent({
      connect: {
        timeout: this.#options.connectTimeoutMs,
        minVersion: 'TLSv1.2',
        ...(ca === undefined ? {} : { ca }),
      },
      // The deadline below bounds each request; these only stop a silent socket from outliving it.
      headersTimeout: this.#options.requestTimeoutMs,
      bodyTimeout: this.#options.requestTimeoutMs,
      // A per-registry cap on parallel calls: a burst of admissions must not flood one registry.
      connections: this.#options.maxConnectionsPerOrigin,
      // HTTP/1.1 keep-alive, not undici's default of offering HTTP/2 (which registries' Go servers pick):
      // against a TLS docker-registry HTTP/2 cost ~10% more CPU and ~15% more wall per cold image, and
      // four 8 MiB uploads at once were refused with ENHANCE_YOUR_CALM (test/oci/tls-transport.test.ts).
      // The Kubernetes client made the same choice (src/kube/client/http.ts).
      allowH2: false,
    });
  }

  /** Whether a host may be reached over plain HTTP: loopback (unless disabled) or listed as insecure. */
  allowsPlainHttp(url: URL): boolean {
    return plainHttpAllowed(url, this.#plainHttp);
  }

  /** Whether a test endpoint (a loopback address) stands in for this registry name. */
  hasEndpoint(registry: string): boolean {
    return this.#endpoints.has(registry.toLowerCase());
  }

  /**
   * The base URL of a registry (`host[:port]`): https, or http where allowsPlainHttp says so; a
   * test endpoint's loopback address when one is set for it.
   */
  registryUrl(registry: string): URL {
    const endpoint = this.#endpoints.get(registry.toLowerCase());
    if (endpoint !== undefined) return new URL(`http://${endpoint}/`);
    const plain = new URL(`http://${registry}/`);
    return this.allowsPlainHttp(plain) ? plain : new URL(`https://${registry}/`);
  }

  async request(request: HttpRequest): Promise<HttpResponse> {
    // Its deadline or the caller's signal, whichever comes first, released as soon as the request ends.
    // (`AbortSignal.any([AbortSignal.timeout(ms), caller])` did the same, but cost 4 µs to build and left
    // a timer pending for the whole timeout after every request.)
    const deadline = new Deadline(
      this.#options.requestTimeoutMs,
      request.signal,
      () => new DOMException('The registry request timed out', 'TimeoutError'),
    );
    const signal = deadline.signal;
    try {
      return await this.#withRetries(request, signal);
    } catch (error) {
      if (!signal.aborted || (error instanceof SigwardError && error.code !== 'REGISTRY_UNAVAILABLE'))
        throw error;
      const details = requestDetails(request.method, request.url);
      const where = `${request.method} ${request.url.host}${request.url.pathname}`;
      if (deadline.timedOut) {
        throw new SigwardError(
          'REGISTRY_TIMEOUT',
          `${where} took longer than ${this.#options.requestTimeoutMs} ms`,
          {
            cause: error,
            details: { ...details, timeoutMs: this.#options.requestTimeoutMs },
          },
        );
      }
      throw new SigwardError('REGISTRY_ABORTED', `${where} was abandoned by its caller`, {
        cause: error,
        details,
      });
    } finally {
      deadline.end();
    }
  }

  async #withRetries(request: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    const deadline = Date.now() + this.#options.requestTimeoutMs;
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      const response = await this.#followRedirects(request, signal, attempt);
      if (!retryStatuses.has(response.status) || attempt > this.#options.maxRetries) return response;
      const wait = parseRetryAfter(header(response, 'retry-after')) ?? 250 * 2 ** (attempt - 1);
      // A wait that cannot end before the deadline is pointless: report the 429/503 now.
      if (waited + wait > this.#options.maxRetryWaitMs || Date.now() + wait >= deadline) return response;
      waited += wait;
      await this.#options.sleep(wait, signal);
    }
  }

  async #followRedirects(request: HttpRequest, signal: AbortSignal, attempts: number): Promise<HttpResponse> {
    const origin = request.url.origin;
    let url = request.url;
    let method = request.method;
    for (let hop = 0; ; hop++) {
      const response = await this.#once({ ...request, method, url }, url.origin === origin, signal, attempts);
      const location = header(response, 'location');
      if (!redirectStatuses.has(response.status) || location === undefined) return response;
      if (method !== 'GET' && method !== 'HEAD') return response; // uploads are not redirected by us
      if (hop >= this.#options.maxRedirects) {
        throw new SigwardError('REGISTRY_PROTOCOL', `more than ${this.#options.maxRedirects} redirects`, {
          details: requestDetails(request.method, request.url),
        });
      }
      try {
        url = new URL(location, url);
      } catch {
        throw new SigwardError('REGISTRY_PROTOCOL', 'the registry redirected to an invalid URL', {
          details: requestDetails(method, url),
        });
      }
      if (request.registryOrigin !== undefined && steeredToLoopback(url, request.registryOrigin)) {
        throw new SigwardError(
          'REGISTRY_PROTOCOL',
          `${request.url.host} redirected to ${url.host}, a loopback address: refused, a registry elsewhere may not lead sigward to its own host's ports (serve the content from the registry's own origin or another host)`,
          {
            details: requestDetails(method, request.url),
          },
        );
      }
      if (response.status === 303) method = 'GET';
    }
  }

  async #once(
    request: HttpRequest,
    sameOrigin: boolean,
    signal: AbortSignal,
    attempts: number,
  ): Promise<HttpResponse> {
    const observe = this.#options.onExchange;
    if (observe === undefined) return this.#exchange(request, sameOrigin, signal, attempts);
    const started = performance.now();
    const report = (outcome: number | string): void => {
      try {
        observe({
          host: request.url.host,
          method: request.method,
          outcome,
          durationMs: performance.now() - started,
        });
      } catch {
        // an observer's failure is not the registry's
      }
    };
    try {
      const response = await this.#exchange(request, sameOrigin, signal, attempts);
      report(response.status);
      return response;
    } catch (error) {
      report(error instanceof SigwardError ? error.code : 'ERROR');
      throw error;
    }
  }

  async #exchange(
    request: HttpRequest,
    sameOrigin: boolean,
    signal: AbortSignal,
    attempts: number,
  ): Promise<HttpResponse> {
    const { url, method } = request;
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new SigwardError('REGISTRY_PROTOCOL', `refusing a ${url.protocol} URL`, {
        details: requestDetails(method, url),
      });
    }
    if (url.protocol === 'http:' && !this.allowsPlainHttp(url)) {
      throw new SigwardError(
        'REGISTRY_INSECURE',
        `refusing plain HTTP to ${url.host}: only loopback or configured insecure registries may use it`,
        { details: requestDetails(method, url) },
      );
    }
    const headers: Record<string, string> = { 'user-agent': this.#options.userAgent, ...request.headers };
    if (request.authorization !== undefined && sameOrigin) headers['authorization'] = request.authorization;
    let response: Exchanged;
    try {
      response = await exchange(this.#agent, {
        url,
        method,
        headers,
        ...(request.body === undefined ? {} : { body: request.body }),
        maxBytes: request.maxBytes,
        errorBodyLimit,
        signal,
      });
    } catch (error) {
      if (error instanceof SigwardError) throw error;
      throw networkError(error, method, url);
    }
    return { status: response.status, headers: response.headers, body: response.body, url, attempts };
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
