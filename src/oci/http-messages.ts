// HTTP messages as the transport hands them around: request and response shapes, the exchange report
// for metrics, and small readers of headers. No I/O.
import type { SafeDetails } from '../errors.ts';

/** One HTTP exchange with a registry, token service or CDN, for metrics. Never holds a URL query. */
export interface Exchange {
  readonly host: string;
  readonly method: string;
  /** The HTTP status, or the error code when there was none (REGISTRY_TIMEOUT, REGISTRY_UNAVAILABLE…). */
  readonly outcome: number | string;
  readonly durationMs: number;
}

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  readonly method: HttpMethod;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent only to the origin of `url`: never along a redirect or a Location to another origin. */
  readonly authorization?: string;
  readonly body?: Uint8Array;
  /** Largest success body accepted; more is REGISTRY_TOO_LARGE. */
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
  /**
   * Set for a registry not named on loopback: its own origin, the one loopback origin a redirect may
   * lead to (a test endpoint); any other loopback target is refused (plain-http.ts steeredToLoopback).
   */
  readonly registryOrigin?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body of a success; at most 64 KiB of an error's body (for its error codes). */
  readonly body: Uint8Array;
  /** Where the response came from after redirects. */
  readonly url: URL;
  /** Attempts made (1 without retries). */
  readonly attempts: number;
}

/** The first value of a response header. */
export function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Where a request went, without query (upload URLs and CDN links carry secrets in it). */
export function requestDetails(method: string, url: URL, extra: SafeDetails = {}): SafeDetails {
  return { method, registry: url.host, path: url.pathname, ...extra };
}

/** Seconds or an HTTP date, as milliseconds from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
