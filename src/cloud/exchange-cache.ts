// The one way every cloud exchange (ECR, GCP, ACR) keeps what it obtained: one credential per key,
// reused until `refreshMarginMs` before its expiry, one exchange at a time per key, each bounded by its
// own timeout. A provider supplies the exchange and how to word its failures; no secret is ever put in
// an error here.
import { SigwardError, redactSecrets } from '../errors.ts';
import type { ObtainedCredential } from '../oci/auth.ts';
import { ExpiringAnswers } from '../oci/expiring-answers.ts';

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
  readonly #timeoutMs: number;
  readonly #describe: ExchangeCacheOptions['describeFailure'];
  readonly #answers: ExpiringAnswers<ObtainedCredential>;

  constructor(options: ExchangeCacheOptions) {
    this.#margin = options.refreshMarginMs;
    this.#answers = new ExpiringAnswers({
      maxEntries: options.maxEntries ?? 256,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    this.#timeoutMs = options.exchangeTimeoutMs ?? 15_000;
    this.#describe = options.describeFailure;
  }

  /**
   * The key's credential: the held one unless due for renewal (or `refresh`), else one exchange shared
   * by every caller that asks meanwhile. Bound by its own timeout, not by a caller's signal: another
   * caller may still want it (the authenticator stops waiting for an abandoned caller).
   */
  async obtain(key: string, exchange: Exchange, refresh = false): Promise<ObtainedCredential> {
    if (refresh) this.#answers.forget(key);
    return this.#answers.kept(key) ?? this.#answers.shared(key, () => this.#exchange(key, exchange));
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
    // Kept until the margin before its expiry. A credential without an expiry, or already within the
    // margin (an emulator's fixed date), is used for this request and not kept.
    this.#answers.keep(key, obtained, (obtained.expiresAt ?? 0) - this.#margin);
    return obtained;
  }
}

/**
 * A provider's error in words that hold no secret: its name, and its message with secret-like runs cut
 * (errors.ts' redactSecrets).
 * A file system error's path is kept: it comes from configuration (e.g. AWS_WEB_IDENTITY_TOKEN_FILE) and
 * says where a secret should be, which is what an operator needs to read.
 */
export function safeFailure(error: unknown): { name: string; message: string } {
  const name = error instanceof Error ? error.name : 'Error';
  const raw = error instanceof Error ? error.message : String(error);
  const { code, path } = (error ?? {}) as { code?: unknown; path?: unknown };
  const kept = typeof code === 'string' && typeof path === 'string' && path !== '' ? path : undefined;
  const cut = (text: string): string => redactSecrets(text);
  const message = kept === undefined ? cut(raw) : raw.split(kept).map(cut).join(kept);
  return { name, message: message.replace(/\s+/g, ' ').slice(0, 300) };
}
