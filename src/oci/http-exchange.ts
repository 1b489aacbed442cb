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

/** What an exchange holds until it settles, dropped then (CollectingHandler #settle). */
interface InFlight {
  readonly options: ExchangeOptions;
  readonly resolve: (value: Exchanged) => void;
  readonly reject: (error: unknown) => void;
  controller: Dispatcher.DispatchController | undefined;
  headers: IncomingHttpHeaders;
  readonly chunks: Buffer[];
}

class CollectingHandler implements Dispatcher.DispatchHandler {
  #flight: InFlight | undefined;
  readonly #signal: AbortSignal;
  readonly #onAbort: () => void;
  #status = 0;
  #total = 0;
  #limit = 0;
  #truncate = false;

  constructor(
    options: ExchangeOptions,
    resolve: (value: Exchanged) => void,
    reject: (error: unknown) => void,
  ) {
    this.#flight = { options, resolve, reject, controller: undefined, headers: {}, chunks: [] };
    this.#signal = options.signal;
    // In flight: abort the exchange. Still queued for a connection: reject now; undici aborts it when
    // it would start (onRequestStart sees it settled).
    this.#onAbort = () => {
      const reason = this.#signal.reason as Error;
      this.#flight?.controller?.abort(reason);
      this.fail(reason);
    };
    this.#signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  fail(error: unknown): void {
    this.#settle()?.reject(error);
  }

  /**
   * Ends the exchange, once: the abort listener is removed and the handler lets go of everything it
   * held (the request's options and controller, the response, the caller's promise). A finished
   * handler can stay reachable for a while from garbage undici left in the old generation, which a
   * minor collection takes for live: what it still pointed to was promoted and left for a full
   * collection (11–16 of them per 1,500 cold verifications instead of 1–2; docs/performance.md).
   */
  #settle(): InFlight | undefined {
    const flight = this.#flight;
    if (flight === undefined) return undefined;
    this.#flight = undefined;
    this.#signal.removeEventListener('abort', this.#onAbort);
    return flight;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    const flight = this.#flight;
    if (flight === undefined) {
      controller.abort(this.#signal.reason ?? new Error('abandoned'));
      return;
    }
    flight.controller = controller;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    const flight = this.#flight;
    if (flight === undefined || statusCode < 200) return; // informational: the final response follows
    const { method, url, maxBytes } = flight.options;
    const ok = statusCode < 300;
    const declared = Number(headers['content-length']);
    if (ok && method !== 'HEAD' && Number.isFinite(declared) && declared > maxBytes) {
      const error = tooLarge(method, url, maxBytes, declared);
      controller.abort(error);
      this.fail(error);
      return;
    }
    this.#status = statusCode;
    flight.headers = headers;
    this.#limit = ok ? maxBytes : flight.options.errorBodyLimit;
    this.#truncate = !ok;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const flight = this.#flight;
    if (flight === undefined) return;
    if (this.#total + chunk.length <= this.#limit) {
      flight.chunks.push(chunk);
      this.#total += chunk.length;
      return;
    }
    const { method, url } = flight.options;
    if (this.#truncate) {
      flight.chunks.push(chunk.subarray(0, this.#limit - this.#total));
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
    const flight = this.#settle();
    if (flight === undefined) return;
    // Copied even when whole in one chunk: a chunk is a view of the socket's read buffer.
    const body = Buffer.concat(flight.chunks, this.#total);
    flight.resolve({ status: this.#status, headers: flight.headers, body });
  }
}
