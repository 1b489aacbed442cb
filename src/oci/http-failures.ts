// Reading a response body under a size cap, and turning undici's network failures into SigwardErrors
// with a code (timeout, TLS, reset, refused, DNS). Messages name method, host and path, never a query.
import { finished } from 'node:stream';
import type { Dispatcher } from 'undici';
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

type Body = Dispatcher.ResponseData['body'];

/**
 * The body, whole, or REGISTRY_TOO_LARGE as soon as it passes `max` (the connection is dropped); with
 * `truncate`, the first `max` bytes instead (error bodies). Stream failures reject with the stream's
 * error (an abort, a reset, a premature close). Listeners rather than `for await`: an async iterator
 * cost a promise per chunk and per end on every request.
 */
export function readCapped(
  body: Body,
  max: number,
  method: string,
  url: URL,
  truncate: boolean,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      outcome();
    };
    const onData = (chunk: Buffer): void => {
      if (total + chunk.length <= max) {
        chunks.push(chunk);
        total += chunk.length;
        return;
      }
      if (truncate) {
        chunks.push(chunk.subarray(0, max - total));
        total = max;
        settle(() => resolve(Buffer.concat(chunks, total)));
      } else {
        settle(() =>
          reject(
            new SigwardError(
              'REGISTRY_TOO_LARGE',
              `${method} ${url.host}${url.pathname}: body exceeds ${max} bytes`,
              {
                details: requestDetails(method, url, { limit: max }),
              },
            ),
          ),
        );
      }
      body.destroy();
    };
    body.on('data', onData);
    finished(body, (error) => {
      if (error !== undefined && error !== null) settle(() => reject(error));
      else settle(() => resolve(Buffer.concat(chunks, total)));
    });
  });
}
