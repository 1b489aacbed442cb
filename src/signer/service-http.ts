// JSON over HTTP to the Sigstore services the signer writes to (Fulcio, Rekor v2): a timeout per
// attempt, and a few retries of what is transient (connection failures, 429, 5xx). Errors carry the
// service, the status and a scrubbed excerpt of the service's answer, never the request body (it holds
// the identity token for Fulcio).
import { setTimeout as delay } from 'node:timers/promises';
import { SignerError, scrub, type SignerErrorCode } from './errors.ts';

export interface ServiceRequestOptions {
  /** Default 30 s per attempt. */
  readonly timeoutMs?: number;
  /** Extra attempts after a transient failure. Default 2. */
  readonly retries?: number;
  readonly signal?: AbortSignal;
  /** Secrets to scrub from any message (the token). */
  readonly secrets?: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ServiceCall {
  /** `Fulcio`, `Rekor`: named in messages. */
  readonly service: string;
  readonly code: SignerErrorCode;
  readonly url: string;
  readonly body: unknown;
}

const transientStatuses: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

function excerpt(text: string, secrets: readonly string[]): string {
  const flat = scrub(text, secrets).replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

/** POSTs JSON and returns the parsed JSON answer (2xx). Throws SignerError with `call.code`. */
export async function postJson(call: ServiceCall, options: ServiceRequestOptions = {}): Promise<unknown> {
  const secrets = options.secrets ?? [];
  const retries = options.retries ?? 2;
  const where = `${call.service} (${new URL(call.url).origin})`;
  let lastProblem = '';
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0)
      await delay(300 * 2 ** (attempt - 1), undefined, options.signal ? { signal: options.signal } : {});
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    let response: Response;
    try {
      response = await fetch(call.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
        body: JSON.stringify(call.body),
        signal,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why = timeout.aborted
        ? `timed out after ${options.timeoutMs ?? 30_000} ms`
        : typeof cause?.code === 'string'
          ? cause.code
          : typeof cause?.message === 'string'
            ? scrub(cause.message, secrets)
            : 'network error';
      lastProblem = `cannot be reached: ${why}`;
      continue;
    }
    const text = await response.text();
    if (response.ok) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new SignerError(call.code, `${where} answered with something that is not JSON`);
      }
    }
    lastProblem = `refused: HTTP ${response.status}${text ? `: ${excerpt(text, secrets)}` : ''}`;
    if (!transientStatuses.has(response.status)) {
      throw new SignerError(call.code, `${where} ${lastProblem}`, {
        details: { service: call.service, status: response.status },
      });
    }
  }
  const tries = retries > 0 ? ` (after ${retries + 1} attempts)` : '';
  throw new SignerError(call.code, `${where} ${lastProblem}${tries}`, { details: { service: call.service } });
}
