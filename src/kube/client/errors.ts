// What the apiserver answered when it refused a request: the HTTP status and its Status object's reason
// and message ("secrets \"x\" not found"), so callers branch on the status (404, 409, 410) and errors
// read as the apiserver's own words. Never the request's headers or credentials.
import { SigwardError } from '../../errors.ts';

export class KubeApiError extends SigwardError {
  /** The HTTP status, or the `code` of a watch's ERROR event (410 for an expired resourceVersion). */
  readonly status: number;
  /** The Status object's `reason` (NotFound, Conflict, Expired, Unauthorized…), when it sent one. */
  readonly reason: string | undefined;
  /** The apiserver's own message ("secrets \"x\" not found"). */
  readonly apiMessage: string;

  constructor(status: number, reason: string | undefined, message: string, where: string) {
    super(
      'KUBE_API_ERROR',
      `${where}: HTTP ${status}${reason === undefined ? '' : ` ${reason}`}: ${message}`,
      {
        details: { status, ...(reason === undefined ? {} : { reason }) },
      },
    );
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.apiMessage = message;
  }
}

/** The HTTP status of a refused request, undefined when the apiserver did not answer (network, TLS). */
export function statusOf(error: unknown): number | undefined {
  return error instanceof KubeApiError ? error.status : undefined;
}

/** A Status object's reason and message, from a body that may be anything. */
export function statusFromBody(body: string): { reason?: string; message?: string } {
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; reason?: unknown; message?: unknown };
    return {
      ...(typeof parsed.reason === 'string' && parsed.reason !== '' ? { reason: parsed.reason } : {}),
      ...(typeof parsed.message === 'string' ? { message: parsed.message } : {}),
    };
  } catch {
    return {};
  }
}
