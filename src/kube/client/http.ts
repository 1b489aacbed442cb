// The one way sigward talks to the apiserver: undici with TLS 1.2+, the connection's CA (and client
// certificate, which an exec plugin may rotate: one connection pool per certificate), a deadline over
// every request (a watch: a limit on silence instead), a cap on every body and every watch event, and
// the apiserver's refusals as KubeApiError (status, reason, message). After a 401 the credentials are
// fetched afresh (a rotated token, an expired exec credential) and the request is sent once more.
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { SigwardError } from '../../errors.ts';
import type { KubeConnection, RequestCredentials } from './connection.ts';
import { KubeApiError, statusFromBody } from './errors.ts';

export interface KubeClientOptions {
  /** TCP + TLS handshake. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Every request but a watch, body included. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** A response body, or one watch event, larger than this is refused. Default 64 MiB. */
  readonly maxResponseBytes?: number;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  /** Default application/json; a patch names its kind (merge-patch+json, strategic-merge-patch+json). */
  readonly contentType?: string;
}

export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: Record<string, unknown>;
}

const ERROR_BODY_LIMIT = 64 * 1024;

export class KubeClient {
  readonly connection: KubeConnection;
  readonly #origin: string;
  readonly #prefix: string;
  readonly #connectTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #maxBytes: number;
  /** One pool per client certificate (none: ''), so a rotated certificate gets new connections. */
  readonly #agents = new Map<string, Agent>();

  constructor(connection: KubeConnection, options: KubeClientOptions = {}) {
    this.connection = connection;
    const url = new URL(connection.server);
    this.#origin = url.origin;
    this.#prefix = url.pathname.replace(/\/+$/, '');
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#maxBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
  }

  /** The namespace of the kubeconfig's context or of the pod (undefined when neither says). */
  get namespace(): string | undefined {
    return this.connection.namespace;
  }

  /** Sends one request and returns its JSON body (undefined for an empty one). */
  async request<T>(method: Dispatcher.HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const send = async (credentials: RequestCredentials): Promise<{ status: number; text: string }> => {
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new DOMException('timed out', 'TimeoutError')),
        this.#requestTimeoutMs,
      );
      try {
        const response = await this.#dispatch(method, path, options, credentials, body, controller.signal, {
          headersTimeout: this.#requestTimeoutMs,
          bodyTimeout: this.#requestTimeoutMs,
        });
        const limit = response.statusCode >= 300 ? ERROR_BODY_LIMIT : this.#maxBytes;
        const bytes: Buffer = await readCapped(response.body, limit, response.statusCode >= 300, () =>
          this.#tooLarge(method, path),
        );
        return { status: response.statusCode, text: bytes.toString('utf8') };
      } catch (error) {
        if (error instanceof SigwardError) throw error;
        throw this.#networkError(error, method, path, controller.signal.aborted);
      } finally {
        clearTimeout(timer);
      }
    };
    const { status, text } = await this.#withFreshCredentialsOn401(
      (c) => send(c),
      (r) => r.status,
    );
    if (status >= 300) throw this.#refusal(status, text, method, path);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new SigwardError('KUBE_BAD_RESPONSE', `${method} ${this.#where(path)}: the answer is not JSON`);
    }
  }

  /**
   * Watches until the apiserver ends the stream (resolves), the signal aborts (resolves), or a refusal,
   * an ERROR event (KubeApiError with its code: 410 for an expired resourceVersion) or a network failure
   * (rejects). `silenceMs` bounds the time without a byte (the server ends a watch after its timeoutSeconds).
   */
  async watch(
    path: string,
    query: Query,
    onEvent: (event: WatchEvent) => void,
    signal: AbortSignal,
    silenceMs: number,
    onOpen?: () => void,
  ): Promise<void> {
    const options = { query: { ...query, watch: true } };
    let response: Dispatcher.ResponseData;
    try {
      response = await this.#withFreshCredentialsOn401(
        async (credentials) => {
          const r = await this.#dispatch('GET', path, options, credentials, undefined, signal, {
            headersTimeout: this.#requestTimeoutMs,
            bodyTimeout: silenceMs,
          });
          if (r.statusCode === 401) await r.body.dump().catch(() => undefined);
          return r;
        },
        (r) => r.statusCode,
      );
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof SigwardError) throw error;
      throw this.#networkError(error, 'GET', path, false);
    }
    if (response.statusCode >= 300) {
      const text = (await readCapped(response.body, ERROR_BODY_LIMIT, true, () => undefined)).toString(
        'utf8',
      );
      throw this.#refusal(response.statusCode, text, 'WATCH', path);
    }
    onOpen?.();
    await new Promise<void>((resolve, reject) => {
      let pending: Buffer = Buffer.alloc(0);
      let failed = false;
      const fail = (error: Error): void => {
        if (failed) return;
        failed = true;
        response.body.destroy();
        reject(error);
      };
      response.body.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let newline: number;
        while (!failed && (newline = pending.indexOf(10)) !== -1) {
          const line = pending.subarray(0, newline).toString('utf8').trim();
          pending = pending.subarray(newline + 1);
          if (line === '') continue;
          let event: WatchEvent;
          try {
            event = JSON.parse(line) as WatchEvent;
          } catch {
            fail(new SigwardError('KUBE_BAD_RESPONSE', `WATCH ${this.#where(path)}: an event is not JSON`));
            return;
          }
          if (event.type === 'ERROR') {
            const status = event.object as { code?: unknown; reason?: unknown; message?: unknown };
            fail(
              new KubeApiError(
                typeof status.code === 'number' ? status.code : 500,
                typeof status.reason === 'string' ? status.reason : undefined,
                typeof status.message === 'string' ? status.message : 'the watch failed',
                `WATCH ${this.#where(path)}`,
              ),
            );
            return;
          }
          try {
            onEvent(event);
          } catch (error) {
            fail(error as Error);
            return;
          }
        }
        if (pending.length > this.#maxBytes) fail(this.#tooLarge('WATCH', path));
      });
      response.body.on('error', (error: Error) => {
        if (signal.aborted) {
          failed = true;
          resolve();
          return;
        }
        fail(error instanceof SigwardError ? error : this.#networkError(error, 'WATCH', path, false));
      });
      response.body.on('end', () => {
        if (!failed) resolve();
      });
    });
  }

  async close(): Promise<void> {
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(agents.map((a) => a.close()));
  }

  async #withFreshCredentialsOn401<R>(
    attempt: (credentials: RequestCredentials) => Promise<R>,
    statusOfResult: (r: R) => number,
  ): Promise<R> {
    const auth = this.connection.auth;
    const first = await auth.current();
    const result = await attempt(first);
    if (statusOfResult(result) !== 401) return result;
    auth.invalidate();
    const fresh = await auth.current();
    return fresh === first ? result : attempt(fresh);
  }

  #dispatch(
    method: Dispatcher.HttpMethod,
    path: string,
    options: RequestOptions,
    credentials: RequestCredentials,
    body: string | undefined,
    signal: AbortSignal,
    timeouts: { headersTimeout: number; bodyTimeout: number },
  ): Promise<Dispatcher.ResponseData> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) search.set(k, String(v));
    const qs = search.toString();
    return this.#agentFor(credentials).request({
      origin: this.#origin,
      path: `${this.#prefix}${path}${qs === '' ? '' : `?${qs}`}`,
      method,
      headers: {
        accept: 'application/json',
        'user-agent': 'sigward',
        ...(body === undefined ? {} : { 'content-type': options.contentType ?? 'application/json' }),
        ...credentials.headers,
      },
      ...(body === undefined ? {} : { body }),
      signal,
      ...timeouts,
    });
  }

  #agentFor(credentials: RequestCredentials): Agent {
    const id = credentials.cert === undefined ? '' : `${credentials.cert}\0${credentials.key ?? ''}`;
    let agent = this.#agents.get(id);
    if (agent !== undefined) return agent;
    // A rotated certificate replaces the last one: the old pool finishes what it carries, then closes.
    for (const [other, old] of this.#agents)
      if (other !== '') {
        this.#agents.delete(other);
        void old.close();
      }
    const c = this.connection;
    agent = new Agent({
      // HTTP/1.1, as client-node spoke: undici's HTTP/2 pool (its default) closed a client under a
      // finished session and raised ClientDestroyedError outside any request (seen against the
      // apiserver in e2e/kube-client.e2e.ts). A watch then holds its own connection.
      allowH2: false,
      connect: {
        timeout: this.#connectTimeoutMs,
        minVersion: 'TLSv1.2',
        ...(c.ca === undefined ? {} : { ca: c.ca }),
        ...(c.insecureSkipTlsVerify === true ? { rejectUnauthorized: false } : {}),
        ...(c.tlsServerName === undefined ? {} : { servername: c.tlsServerName }),
        ...(credentials.cert === undefined ? {} : { cert: credentials.cert, key: credentials.key }),
      },
    });
    this.#agents.set(id, agent);
    return agent;
  }

  #where(path: string): string {
    return `${new URL(this.#origin).host}${this.#prefix}${path}`;
  }

  #refusal(status: number, text: string, method: string, path: string): KubeApiError {
    const parsed = statusFromBody(text);
    const message =
      parsed.message ??
      (status === 401
        ? 'the credentials were refused'
        : text.replace(/\s+/g, ' ').trim().slice(0, 200) || 'no message');
    return new KubeApiError(status, parsed.reason, message, `${method} ${this.#where(path)}`);
  }

  #tooLarge(method: string, path: string): SigwardError {
    return new SigwardError(
      'KUBE_RESPONSE_TOO_LARGE',
      `${method} ${this.#where(path)}: the answer exceeds ${this.#maxBytes} bytes`,
    );
  }

  #networkError(error: unknown, method: string, path: string, timedOut: boolean): SigwardError {
    const code = (error as { code?: unknown } | undefined)?.code;
    const where = `${method} ${this.#where(path)}`;
    if (
      timedOut ||
      (error as { name?: unknown } | undefined)?.name === 'TimeoutError' ||
      code === 'UND_ERR_CONNECT_TIMEOUT' ||
      code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_BODY_TIMEOUT'
    )
      return new SigwardError('KUBE_TIMEOUT', `${where}: the apiserver did not answer in time`, {
        cause: error,
      });
    if (
      typeof code === 'string' &&
      /^ERR_SSL|^ERR_TLS|^EPROTO$|CERT|SELF_SIGNED|^UNABLE_TO_|HOSTNAME/.test(code)
    )
      return new SigwardError('KUBE_TLS', `${where}: TLS failed (${code})`, { cause: error });
    const reason =
      code === 'ECONNREFUSED'
        ? 'the connection was refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'the host name did not resolve'
          : code === 'UND_ERR_SOCKET' || code === 'ECONNRESET'
            ? 'the connection was reset'
            : `the request failed (${typeof code === 'string' ? code : ((error as Error | undefined)?.message ?? 'unknown')})`;
    return new SigwardError('KUBE_UNAVAILABLE', `${where}: ${reason}`, { cause: error });
  }
}

/** The body, whole, or the `tooLarge` error once it passes `max` (with `truncate`: its first `max` bytes). */
function readCapped(
  body: Dispatcher.ResponseData['body'],
  max: number,
  truncate: boolean,
  tooLarge: () => Error | undefined,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    body.on('data', (chunk: Buffer) => {
      if (done) return;
      if (total + chunk.length <= max) {
        chunks.push(chunk);
        total += chunk.length;
        return;
      }
      done = true;
      if (truncate) {
        chunks.push(chunk.subarray(0, max - total));
        resolve(Buffer.concat(chunks));
      } else reject(tooLarge() ?? new Error('too large'));
      body.destroy();
    });
    body.on('error', (error) => {
      if (!done) {
        done = true;
        reject(error);
      }
    });
    body.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
  });
}
