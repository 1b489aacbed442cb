// Retries of registry steps that failed for a reason that may pass: the registry was unavailable,
// timed out, rate-limited us, or another writer changed a tag we were updating (If-Match). Every step
// retried this way is idempotent (content-addressed blobs, manifests by digest, tags re-read first).
import { setTimeout as delay } from 'node:timers/promises';
import { SigwardError } from '../errors.ts';

const transient: ReadonlySet<string> = new Set([
  'REGISTRY_UNAVAILABLE',
  'REGISTRY_TIMEOUT',
  'REGISTRY_RATE_LIMITED',
  'REGISTRY_CONFLICT',
]);

/**
 * What docker-registry answers a manifest push that races another writer's upload of the same blob
 * (the empty config every signature shares): the content is fine, a second try succeeds.
 */
const racyRejections: ReadonlySet<string> = new Set([
  'DIGEST_INVALID',
  'BLOB_UNKNOWN',
  'MANIFEST_BLOB_UNKNOWN',
]);

export function isTransient(error: unknown): boolean {
  if (!(error instanceof SigwardError)) return false;
  if (transient.has(error.code)) return true;
  const registryCode = error.details['registryCode'];
  return (
    error.code === 'REGISTRY_REJECTED' && typeof registryCode === 'string' && racyRejections.has(registryCode)
  );
}

export interface RetryOptions {
  /** Attempts in all. Default 3. */
  readonly attempts?: number;
  /** First wait, doubled each time. Default 500 ms. */
  readonly baseDelayMs?: number;
  readonly signal?: AbortSignal;
  /** Told of each retry, e.g. to print it. */
  readonly onRetry?: (error: SigwardError, attempt: number) => void;
}

export async function withRetries<T>(step: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      options.onRetry?.(error as SigwardError, attempt);
      const wait = (options.baseDelayMs ?? 500) * 2 ** (attempt - 1);
      await delay(wait, undefined, options.signal === undefined ? {} : { signal: options.signal });
    }
  }
}
