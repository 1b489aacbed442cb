// Turning undici's network failures into SigwardErrors with a code (timeout, TLS, reset, refused, DNS).
// Messages name method, host and path, never a query.
import { SigwardError } from '../errors.ts';
import { requestDetails } from './http-messages.ts';

export function networkError(error: unknown, method: string, url: URL): SigwardError {
  const code = (error as { code?: unknown }).code;
  const details = requestDetails(method, url, { cause: typeof code === 'string' ? code : 'unknown' });
  const where = `${method} ${url.host}${url.pathname}`;
  if (
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return new SigwardError('REGISTRY_TIMEOUT', `${where} timed out`, { cause: error, details });
  }
  if (typeof code === 'string' && /^ERR_SSL|^ERR_TLS|^EPROTO$|CERT|SELF_SIGNED|^UNABLE_TO_/.test(code)) {
    return new SigwardError('REGISTRY_TLS', `${where}: TLS failed (${code})`, { cause: error, details });
  }
  const reason =
    code === 'UND_ERR_SOCKET' || code === 'ECONNRESET'
      ? 'the connection was reset'
      : code === 'ECONNREFUSED'
        ? 'the connection was refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'the host name did not resolve'
          : 'the request failed';
  return new SigwardError('REGISTRY_UNAVAILABLE', `${where}: ${reason}`, { cause: error, details });
}
