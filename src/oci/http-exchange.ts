// One HTTP exchange through undici's dispatcher with the body collected by the handler itself: the
// status, headers and body under its cap, or REGISTRY_TOO_LARGE as soon as the body passes it (declared
// or streamed). Error bodies are cut at their own cap instead. `request()` wrapped every response in a
// Readable stream, an AsyncResource and stream-end bookkeeping: ~30 µs of CPU per request against a fast
// registry, ~100 µs against docker-registry (its answers arrive after the loop went idle), ~15–25% of
// what one registry request costs here.
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'undici/types/header.js';
import { SigwardError } from '../errors.ts';
import { requestDetails } from './http-messages.ts';

export interface Exchanged {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface ExchangeOptions {
  readonly url: URL;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
  /** A 2xx body larger than this is REGISTRY_TOO_LARGE. */
  readonly maxBytes: number;
  /** Other bodies (errors, redirects) are cut at this many bytes. */
  readonly errorBodyLimit: number;
  /** Aborting rejects with its reason at once, queued or in flight. */
  readonly signal: AbortSignal;
}

/** Rejects with undici's or the signal's error, or a SigwardError for a body over its cap. */
export function exchange(dispatcher: Dispatcher, options: ExchangeOptions): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) {
      reject(options.signal.reason);
      return;
    }
    const handler = new CollectingHandler(options, resolve, reject);
    try {
      dispatcher.dispatch(
        {
          origin: options.url.origin,
          path: `${options.url.pathname}${options.url.search}`,
          method: options.method as Dispatcher.HttpMethod,
          headers: options.headers,
          ...(options.body === undefined ? {} : { body: options.body }),
        },
        handler,
      );
    } catch (error) {
      handler.fail(error);
    }
  });
}

/** A 2xx body over its cap, as declared by Content-Length or as streamed so far. */
function tooLarge(method: string, url: URL, limit: number, declared?: number): SigwardError {
  const where = `${method} ${url.host}${url.pathname}`;
  // What to do: nothing sigward reads (manifests, indexes, signature bundles) is anywhere near the caps,
  // so an answer this large is the registry serving something else there.
  const advice = `sigward's cap for this answer; signature manifests and bundles are a few KiB: check what the registry serves at ${url.pathname}`;
  return declared === undefined
    ? new SigwardError('REGISTRY_TOO_LARGE', `${where}: body exceeds ${limit} bytes, ${advice}`, {
        details: requestDetails(method, url, { limit }),
      })
    : new SigwardError(
        'REGISTRY_TOO_LARGE',
        `${where}: body of ${declared} bytes exceeds ${limit}, ${advice}`,
        { details: requestDetails(method, url, { limit, declared }) },
      );
}

class CollectingHandler implements Dispatcher.DispatchHandler {
  readonly #options: ExchangeOptions;
  readonly #resolve: (value: Exchanged) => void;
  readonly #reject: (error: unknown) => void;
  readonly #onAbort: () => void;
  #controller: Dispatcher.DispatchController | undefined;
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  #chunks: Buffer[] = [];
  #total = 0;
  #limit = 0;
  #truncate = false;
  #settled = false;

  constructor(
    options: ExchangeOptions,
    resolve: (value: Exchanged) => void,
    reject: (error: unknown) => void,
  ) {
    this.#options = options;
    this.#resolve = resolve;
    this.#reject = reject;
    // In flight: abort the exchange. Still queued for a connection: reject now; undici aborts it when
    // it would start (onRequestStart sees it settled).
    this.#onAbort = () => {
      const reason = options.signal.reason as Error;
      this.#controller?.abort(reason);
      this.fail(reason);
    };
    options.signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  fail(error: unknown): void {
    if (this.#settle()) this.#reject(error);
  }

  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#options.signal.removeEventListener('abort', this.#onAbort);
    return true;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.#settled) {
      controller.abort(this.#options.signal.reason ?? new Error('abandoned'));
      return;
    }
    this.#controller = controller;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return; // informational: the final response follows
    const { method, url, maxBytes } = this.#options;
    const ok = statusCode < 300;
    const declared = Number(headers['content-length']);
    if (ok && method !== 'HEAD' && Number.isFinite(declared) && declared > maxBytes) {
      const error = tooLarge(method, url, maxBytes, declared);
      controller.abort(error);
      this.fail(error);
      return;
    }
    this.#status = statusCode;
    this.#headers = headers;
    this.#limit = ok ? maxBytes : this.#options.errorBodyLimit;
    this.#truncate = !ok;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    if (this.#total + chunk.length <= this.#limit) {
      this.#chunks.push(chunk);
      this.#total += chunk.length;
      return;
    }
    const { method, url } = this.#options;
    if (this.#truncate) {
      this.#chunks.push(chunk.subarray(0, this.#limit - this.#total));
      this.#total = this.#limit;
      this.#succeed();
      controller.abort(new Error('error body cut at its cap')); // the rest is not read: drop the connection
      return;
    }
    const error = tooLarge(method, url, this.#limit);
    controller.abort(error);
    this.fail(error);
  }

  onResponseEnd(): void {
    this.#succeed();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error);
  }

  #succeed(): void {
    if (!this.#settle()) return;
    // Copied even when whole in one chunk: a chunk is a view of the socket's read buffer.
    const body = Buffer.concat(this.#chunks, this.#total);
    this.#resolve({ status: this.#status, headers: this.#headers, body });
  }
}
