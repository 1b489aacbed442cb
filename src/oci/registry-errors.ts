// A registry's HTTP answer that is not what was asked for, as a SigwardError whose code says what kind
// of failure it is. "Not found" is REGISTRY_NOT_FOUND and nothing else, so a caller can tell "there is
// no signature tag" from "the registry failed".
import { SigwardError, redactSecrets, type SafeDetails } from '../errors.ts';
import { header, parseRetryAfter, requestDetails, type HttpResponse } from './http.ts';

export type RegistryErrorCode =
  | 'REGISTRY_UNAUTHORIZED'
  | 'REGISTRY_DENIED'
  | 'REGISTRY_NOT_FOUND'
  | 'REGISTRY_CONFLICT'
  | 'REGISTRY_REJECTED'
  | 'REGISTRY_RATE_LIMITED'
  | 'REGISTRY_UNAVAILABLE'
  | 'REGISTRY_PROTOCOL'
  | 'REGISTRY_TOO_LARGE'
  | 'REGISTRY_DIGEST_MISMATCH'
  | 'REGISTRY_TIMEOUT'
  | 'REGISTRY_ABORTED'
  | 'REGISTRY_INSECURE'
  | 'REGISTRY_TLS';

/** The registry's own error code and message from a distribution-spec error body, sanitised. */
export function registryErrorOf(body: Uint8Array): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as { errors?: unknown };
    const first = Array.isArray(parsed.errors)
      ? (parsed.errors[0] as Record<string, unknown> | undefined)
      : undefined;
    if (first === undefined || typeof first !== 'object' || first === null) return {};
    const code =
      typeof first['code'] === 'string' && /^[A-Z0-9_]{1,64}$/.test(first['code'])
        ? first['code']
        : undefined;
    // Printable ASCII only, short, and never an echoed credential.
    const message =
      typeof first['message'] === 'string'
        ? redactSecrets(first['message'].replace(/[^\x20-\x7e]/g, ' ')).slice(0, 200)
        : undefined;
    return { ...(code === undefined ? {} : { code }), ...(message === undefined ? {} : { message }) };
  } catch {
    return {};
  }
}

function codeForStatus(status: number): RegistryErrorCode {
  if (status === 401) return 'REGISTRY_UNAUTHORIZED';
  if (status === 403) return 'REGISTRY_DENIED';
  if (status === 404) return 'REGISTRY_NOT_FOUND';
  if (status === 409 || status === 412) return 'REGISTRY_CONFLICT';
  if (status === 429) return 'REGISTRY_RATE_LIMITED';
  if (status >= 500) return 'REGISTRY_UNAVAILABLE';
  if (status >= 400) return 'REGISTRY_REJECTED';
  return 'REGISTRY_PROTOCOL';
}

/**
 * The error for an unexpected status. `what` names the object in words (`manifest of
 * ghcr.io/o/app:1`); the message carries the status and the registry's own code, never a credential.
 */
export function statusError(response: HttpResponse, method: string, what: string): SigwardError {
  const code = codeForStatus(response.status);
  const registry = registryErrorOf(response.body);
  const retryAfterMs = parseRetryAfter(header(response, 'retry-after'));
  const details: SafeDetails = requestDetails(method, response.url, {
    status: response.status,
    attempts: response.attempts,
    ...(registry.code === undefined ? {} : { registryCode: registry.code }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
  const said =
    registry.code === undefined
      ? ''
      : ` (${registry.code}${registry.message ? `: ${registry.message}` : ''})`;
  const tries = response.attempts > 1 ? ` after ${response.attempts} attempts` : '';
  return new SigwardError(code, `${method} ${what}: HTTP ${response.status}${said}${tries}`, { details });
}
