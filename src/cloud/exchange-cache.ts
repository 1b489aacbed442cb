// The one way every cloud exchange (ECR, GCP, ACR) keeps what it obtained: one credential per key,
// reused until `refreshMarginMs` before its expiry, one exchange at a time per key, each bounded by its
// own timeout. A provider supplies the exchange and how to word its failures; no secret is ever put in
// an error here.
import { SigwardError } from '../errors.ts';
import type { ObtainedCredential } from '../oci/auth.ts';

export interface ExchangeCacheOptions {
  /** Refresh this long before a credential expires. */
  readonly refreshMarginMs: number;
  readonly now?: () => number;
  /** Keys kept. Default 256. */
  readonly maxEntries?: number;
  /** Bound on one exchange. Default 15 s. */
  readonly exchangeTimeoutMs?: number;
  /** Turns a provider's own failure (never a SigwardError) into a coded error holding no secret. */
  readonly describeFailure: (key: string, error: unknown) => SigwardError;
}

export type Exchange = (signal: AbortSignal) => Promise<ObtainedCredential>;

interface Held {
  readonly obtained: ObtainedCredential;
  /** When to ask again (expiry minus the margin). */
  readonly renewAt: number;
}

/** Rejects when the signal aborts, so a library that ignores signals still cannot hold a caller. */
function bounded<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class ExchangeCache {
  readonly #margin: number;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #timeoutMs: number;
  readonly #describe: ExchangeCacheOptions['describeFailure'];
  readonly #held = new Map<string, Held>();
  readonly #inflight = new Map<string, Promise<ObtainedCredential>>();

  constructor(options: ExchangeCacheOptions) {
    this.#margin = options.refreshMarginMs;
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 256;
    this.#timeoutMs = options.exchangeTimeoutMs ?? 15_000;
    this.#describe = options.describeFailure;
  }

  /**
   * The key's credential: the held one unless due for renewal (or `refresh`), else one exchange shared
   * by every caller that asks meanwhile. Bound by its own timeout, not by a caller's signal: another
   * caller may still want it (the authenticator stops waiting for an abandoned caller).
   */
  async obtain(key: string, exchange: Exchange, refresh = false): Promise<ObtainedCredential> {
    const held = this.#held.get(key);
    if (held !== undefined && !refresh && this.#now() < held.renewAt) return held.obtained;
    if (refresh) this.#held.delete(key);
    let running = this.#inflight.get(key);
    if (running === undefined) {
      running = this.#exchange(key, exchange).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, running);
    }
    return running;
  }

  async #exchange(key: string, exchange: Exchange): Promise<ObtainedCredential> {
    let obtained: ObtainedCredential;
    const signal = AbortSignal.timeout(this.#timeoutMs);
    try {
      obtained = await bounded(exchange(signal), signal);
    } catch (error) {
      if (error instanceof SigwardError) throw error;
      if (signal.aborted) {
        const timedOut = new Error(`no answer within ${this.#timeoutMs} ms`);
        timedOut.name = 'TimeoutError';
        throw this.#describe(key, timedOut);
      }
      throw this.#describe(key, error);
    }
    // A credential without an expiry, or already within the margin (an emulator's fixed date), is used
    // for this request and not kept.
    const renewAt = (obtained.expiresAt ?? 0) - this.#margin;
    if (renewAt > this.#now()) {
      if (this.#held.size >= this.#maxEntries && !this.#held.has(key)) {
        const oldest = this.#held.keys().next();
        if (oldest.done !== true) this.#held.delete(oldest.value);
      }
      this.#held.set(key, { obtained, renewAt });
    }
    return obtained;
  }
}

const longSecretLike = /[A-Za-z0-9+/=_-]{32,}/g;

/** A provider's error in words that hold no secret: its name, and its message with long opaque runs cut. */
export function safeFailure(error: unknown): { name: string; message: string } {
  const name = error instanceof Error ? error.name : 'Error';
  const raw = error instanceof Error ? error.message : String(error);
  return { name, message: raw.replace(longSecretLike, '[redacted]').replace(/\s+/g, ' ').slice(0, 300) };
}
