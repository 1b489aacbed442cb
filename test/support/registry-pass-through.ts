// The one proxy core of the registry fronts (bearer-front.ts, ecr-front.ts): once a front has accepted
// a request's credential, the request goes on to the real registry behind it and the answer comes back
// as the registry gave it.
import http from 'node:http';
import type { DockerRegistry } from './docker-registry.ts';

/** Forwards `req` to `backend` without its Authorization header (the front's credential, not the registry's). */
export function passToRegistry(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  backend: DockerRegistry,
): void {
  const { authorization: _dropped, ...headers } = req.headers;
  const upstream = http.request(
    {
      host: '127.0.0.1',
      port: Number(backend.host.split(':')[1]),
      method: req.method,
      path: req.url,
      headers,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}
