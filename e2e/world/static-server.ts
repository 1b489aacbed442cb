// A tiny read-only HTTP server for a directory on 127.0.0.1: the TUF mirror (and anything else the world
// serves as plain files). It records every request path, so tests can assert what a client fetched.
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { loopback } from './ports.ts';

export interface StaticServer {
  url: string;
  /** Request paths in arrival order, with the status answered: `200 /timestamp.json`. */
  readonly requests: string[];
  stop(): Promise<void>;
}

const contentTypes: Record<string, string> = { '.json': 'application/json' };

export async function serveDirectory(root: string): Promise<StaticServer> {
  const requests: string[] = [];
  const base = path.resolve(root);
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.resolve(base, `.${pathname}`);
    let status = 200;
    let size = 0;
    if (req.method !== 'GET' && req.method !== 'HEAD') status = 405;
    else if (!file.startsWith(`${base}${path.sep}`)) status = 404;
    else {
      try {
        const stat = statSync(file);
        if (!stat.isFile()) status = 404;
        size = stat.size;
      } catch {
        status = 404;
      }
    }
    requests.push(`${status} ${pathname}`);
    if (status !== 200) {
      res.writeHead(status, { 'content-type': 'text/plain' }).end(`${status}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': contentTypes[path.extname(file)] ?? 'application/octet-stream',
      'content-length': size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: loopback, port: 0 }, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://${loopback}:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
