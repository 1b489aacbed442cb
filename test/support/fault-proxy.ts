// A fault-injecting HTTP proxy on 127.0.0.1, in front of a registry (or of nothing), for the hostile
// behaviour real registries never show on demand: oversized or altered bodies, 429/503 with
// Retry-After, stalls, connection resets, redirects to another host. Faults are chosen per request by
// method and path pattern; requests that match no rule are forwarded unchanged (Host header kept, so
// the registry's absolute Location URLs point back at the proxy).
//
//   const proxy = await startFaultProxy({ upstream: registry.url });
//   proxy.addFault({ path: /\/manifests\//, fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } }, times: 2 });
//   const ref = parseReference(`${proxy.host}/app:1`);    // the client talks to the proxy
//   ...
//   proxy.requests   // what arrived: method, path, whether it carried Authorization, which fault hit it
//   await proxy.close();
//
// Synchronise on `proxy.nextRequest(pattern)` (resolves when a matching request arrives; call it before
// starting that request) or on a `hold` fault released by the test, never on time.
import http from 'node:http';
import type { Socket } from 'node:net';

export type Fault =
  /** Answer without forwarding: any status, headers and body (e.g. 429 + Retry-After, a fake API). */
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly headers?: Readonly<Record<string, string>>;
      readonly body?: string | Uint8Array;
    }
  /** Answer 200 with `bytes` bytes; `contentLength: false` streams them chunked, without a length. */
  | { readonly kind: 'oversize'; readonly bytes: number; readonly contentLength?: boolean }
  /** Answer 200 announcing `Content-Length: bytes`, then send nothing and hold the connection. */
  | { readonly kind: 'announce-size'; readonly bytes: number }
  /** Forward, then flip one byte of the upstream body (length and headers kept). */
  | { readonly kind: 'alter-body' }
  /** Forward, then replace or add response headers (e.g. a wrong Docker-Content-Digest). */
  | { readonly kind: 'set-headers'; readonly headers: Readonly<Record<string, string>> }
  /** Never answer (`before-headers`) or send headers and half the body, then hold the connection. */
  | { readonly kind: 'stall'; readonly when?: 'before-headers' | 'mid-body' }
  /** Destroy the connection before answering, or after sending headers and part of the body. */
  | { readonly kind: 'reset'; readonly when?: 'before-headers' | 'mid-body' }
  /**
   * Answer 200 announcing `bytes`, then send one byte every `everyMs` until done: each byte comes well
   * within any idle timeout, so only a deadline over the whole request ends it early.
   */
  | { readonly kind: 'trickle'; readonly bytes: number; readonly everyMs: number }
  /** Forward only once `release` resolves: a slow registry whose pace the test controls. */
  | { readonly kind: 'hold'; readonly release: Promise<unknown> }
  /** Redirect; `location` may be a function of the request path (e.g. to another proxy). */
  | {
      readonly kind: 'redirect';
      readonly location: string | ((path: string) => string);
      readonly status?: number;
    };

export interface FaultRule {
  /** Matches the request path with its query. */
  readonly path: RegExp;
  readonly method?: string;
  readonly fault: Fault;
  /** How many requests it applies to; unlimited by default. */
  readonly times?: number;
}

export interface RuleHandle {
  /** Requests this rule has hit so far. */
  readonly hits: number;
  remove(): void;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** Whether the request carried an Authorization header (its value is never kept). */
  readonly authorization: boolean;
  /** The fault that hit it, if any. */
  readonly fault?: Fault['kind'];
}

export interface FaultProxy {
  /** `127.0.0.1:<port>` (or `[::1]:<port>`), the registry part of references through the proxy. */
  readonly host: string;
  readonly url: string;
  readonly requests: readonly RecordedRequest[];
  addFault(rule: FaultRule): RuleHandle;
  clearFaults(): void;
  /** Forgets the recorded requests (e.g. between tests sharing one proxy). */
  clearRequests(): void;
  /**
   * Resolves with the next request whose path matches that arrives after this call: call it before
   * starting the request it waits for.
   */
  nextRequest(path: RegExp): Promise<RecordedRequest>;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Base URL to forward to (`http://127.0.0.1:5000`); without it, unmatched requests get 502. */
  readonly upstream?: string;
  /** Listen address: 127.0.0.1 (default) or the IPv6 loopback ::1. */
  readonly listen?: '127.0.0.1' | '::1';
}

interface ActiveRule {
  rule: FaultRule;
  hits: number;
  removed: boolean;
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function forward(
  upstream: URL,
  request: http.IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, 'content-length': String(body.length) },
      },
      (response) => {
        readAll(response).then(
          (data) => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: data }),
          reject,
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function cleanHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = { ...headers };
  delete out['transfer-encoding'];
  delete out['connection'];
  delete out['keep-alive'];
  return out;
}

export async function startFaultProxy(options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const upstream = options.upstream === undefined ? undefined : new URL(options.upstream);
  const rules: ActiveRule[] = [];
  const requests: RecordedRequest[] = [];
  const waiters: { path: RegExp; resolve: (r: RecordedRequest) => void }[] = [];
  const sockets = new Set<Socket>();

  const record = (entry: RecordedRequest): void => {
    requests.push(entry);
    const index = waiters.findIndex((w) => w.path.test(entry.path));
    if (index !== -1) waiters.splice(index, 1)[0]?.resolve(entry);
  };

  const pick = (method: string, path: string): Fault | undefined => {
    for (const active of rules) {
      const { rule } = active;
      if (active.removed || (rule.method !== undefined && rule.method !== method) || !rule.path.test(path))
        continue;
      if (active.hits >= (rule.times ?? Infinity)) continue;
      active.hits++;
      return rule.fault;
    }
    return undefined;
  };

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse): Promise<void> => {
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    const body = await readAll(request);
    const fault = pick(method, path);
    record({
      method,
      path,
      authorization: request.headers.authorization !== undefined,
      ...(fault === undefined ? {} : { fault: fault.kind }),
    });
    const upstreamAnswer = async () => {
      if (upstream === undefined) return { status: 502, headers: {}, body: Buffer.from('no upstream') };
      return forward(upstream, request, body);
    };
    switch (fault?.kind) {
      case undefined: {
        const answer = await upstreamAnswer();
        response.writeHead(answer.status, cleanHeaders(answer.headers));
        response.end(method === 'HEAD' ? undefined : answer.body);
        return;
      }
      case 'status':
        response.writeHead(fault.status, { ...fault.headers });
        response.end(fault.body === undefined ? undefined : Buffer.from(fault.body));
        return;
      case 'oversize': {
        response.writeHead(200, {
          'content-type': 'application/octet-stream',
          ...(fault.contentLength === false ? {} : { 'content-length': String(fault.bytes) }),
        });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let left = fault.bytes;
        const pump = (): void => {
          while (left > 0) {
            const piece = chunk.subarray(0, Math.min(left, chunk.length));
            left -= piece.length;
            if (!response.write(piece)) {
              response.once('drain', pump);
              return;
            }
          }
          response.end();
        };
        response.on('error', () => undefined);
        pump();
        return;
      }
      case 'announce-size':
        response.writeHead(200, { 'content-length': String(fault.bytes) });
        response.flushHeaders();
        return; // hold the connection; close() ends it
      case 'alter-body': {
        const answer = await upstreamAnswer();
        const altered = Buffer.from(answer.body);
        if (altered.length > 0) altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 0x01;
        response.writeHead(answer.status, cleanHeaders(answer.headers));
        response.end(method === 'HEAD' ? undefined : altered);
        return;
      }
      case 'set-headers': {
        const answer = await upstreamAnswer();
        response.writeHead(answer.status, { ...cleanHeaders(answer.headers), ...fault.headers });
        response.end(method === 'HEAD' ? undefined : answer.body);
        return;
      }
      case 'stall':
      case 'reset': {
        if (fault.when === 'mid-body') {
          response.writeHead(200, { 'content-length': '1000', 'content-type': 'application/octet-stream' });
          response.write(Buffer.alloc(100, 0x62));
        }
        if (fault.kind === 'reset') {
          // Let the partial body leave before the reset, so the client sees it mid-body.
          setImmediate(() => request.socket.resetAndDestroy());
        }
        return; // a stall holds the connection until the client gives up or close()
      }
      case 'trickle': {
        response.writeHead(200, {
          'content-length': String(fault.bytes),
          'content-type': 'application/octet-stream',
        });
        let sent = 0;
        const timer = setInterval(() => {
          response.write(Buffer.of(0x63));
          if (++sent === fault.bytes) {
            clearInterval(timer);
            response.end();
          }
        }, fault.everyMs);
        response.on('close', () => clearInterval(timer));
        response.on('error', () => undefined);
        return;
      }
      case 'hold': {
        await fault.release;
        const answer = await upstreamAnswer();
        response.writeHead(answer.status, cleanHeaders(answer.headers));
        response.end(method === 'HEAD' ? undefined : answer.body);
        return;
      }
      case 'redirect': {
        const location = typeof fault.location === 'string' ? fault.location : fault.location(path);
        response.writeHead(fault.status ?? 307, { location });
        response.end();
        return;
      }
    }
  };

  const server = http.createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const listen = options.listen ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listen, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const host = listen === '::1' ? `[::1]:${port}` : `127.0.0.1:${port}`;

  return {
    host,
    url: `http://${host}`,
    requests,
    addFault(rule) {
      const active: ActiveRule = { rule, hits: 0, removed: false };
      rules.push(active);
      return {
        get hits() {
          return active.hits;
        },
        remove() {
          active.removed = true;
        },
      };
    },
    clearFaults() {
      for (const active of rules) active.removed = true;
      rules.length = 0;
    },
    clearRequests() {
      requests.length = 0;
    },
    nextRequest(path) {
      return new Promise((resolve) => waiters.push({ path, resolve }));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
