// The shared part of the cloud registry doubles (gar-front.ts, acr-front.ts): distribution's token
// auth as Artifact Registry and ACR serve it, in front of a real registry (Debian's docker-registry)
// on loopback. Every /v2/ request without a registry token this front issued gets 401 with
// `Bearer realm="<front><realmPath>",service="<registry name>"`; the realm checks the credential with
// the provider-specific `authorize` (Basic on GET, or a refresh_token grant on POST) and the `service`,
// and issues a short-lived registry token; requests with that token go through to the real registry.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startDockerRegistry, type DockerRegistry } from './docker-registry.ts';
import { passToRegistry } from './registry-pass-through.ts';

export interface PresentedCredential {
  /** `Basic user:password` on a GET to the realm. */
  readonly basic?: { readonly username: string; readonly password: string };
  /** The form of a POST to the realm (grant_type=refresh_token, refresh_token, service, scope). */
  readonly form?: URLSearchParams;
}

/** `true`, or the refusal: a reason counted by the test and the registry's error code. */
export type Authorization =
  true | { readonly reason: string; readonly status?: number; readonly code?: string };

export interface BearerFrontOptions {
  /** The registry name images use (e.g. `us-docker.pkg.dev`, `team.azurecr.io`): the token `service`. */
  readonly registry: string;
  readonly realmPath: string;
  readonly authorize: (credential: PresentedCredential) => Authorization;
  /** Other routes of the auth server (ACR's /oauth2/exchange); return true when handled. */
  readonly route?: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => boolean;
}

export interface BearerFront {
  readonly registry: string;
  /** `127.0.0.1:<port>`; map the name to it with SIGWARD_TEST_REGISTRY_ENDPOINTS. */
  readonly endpoint: string;
  readonly endpointsEnv: string;
  readonly backend: DockerRegistry;
  /** Registry requests let through, registry tokens issued, and refusals by reason. */
  readonly counts: { accepted: number; issued: number; refused: Record<string, number> };
  stop(): Promise<void>;
}

export async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function basicOf(header: string | undefined): PresentedCredential['basic'] {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? '');
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export async function startBearerFront(options: BearerFrontOptions): Promise<BearerFront> {
  const backend = await startDockerRegistry();
  const tokens = new Map<string, number>();
  const counts: BearerFront['counts'] = { accepted: 0, issued: 0, refused: {} };
  let endpoint = '';
  const refuse = (res: http.ServerResponse, reason: string, status = 401, code = 'UNAUTHORIZED'): void => {
    counts.refused[reason] = (counts.refused[reason] ?? 0) + 1;
    sendJson(res, status, { errors: [{ code, message: 'authentication required' }] });
  };

  const realm = async (req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://front');
    const form = req.method === 'POST' ? new URLSearchParams(body) : undefined;
    const service = form?.get('service') ?? url.searchParams.get('service');
    if (service !== options.registry) return refuse(res, 'service', 400, 'INVALID_SERVICE');
    const basic = req.method === 'GET' ? basicOf(req.headers.authorization) : undefined;
    if (form !== undefined && form.get('grant_type') !== 'refresh_token') {
      return refuse(res, 'grant_type', 400, 'UNSUPPORTED_GRANT_TYPE');
    }
    const verdict = options.authorize({
      ...(basic === undefined ? {} : { basic }),
      ...(form === undefined ? {} : { form }),
    });
    if (verdict !== true)
      return refuse(res, verdict.reason, verdict.status ?? 401, verdict.code ?? 'UNAUTHORIZED');
    const token = `registry-${randomBytes(18).toString('base64url')}`;
    tokens.set(token, Date.now() + 300_000);
    counts.issued++;
    sendJson(res, 200, { token, access_token: token, expires_in: 300 });
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://front').pathname;
      if (path === options.realmPath) return realm(req, res, await readBody(req));
      if (!path.startsWith('/v2/') && path !== '/v2') {
        const body = await readBody(req);
        if (options.route?.(req, res, body) !== true) sendJson(res, 404, { errors: [{ code: 'NOT_FOUND' }] });
        return;
      }
      const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      const until = bearer === undefined ? undefined : tokens.get(bearer);
      if (until === undefined || until < Date.now()) {
        req.resume();
        counts.refused[bearer === undefined ? 'missing' : 'registry-token'] =
          (counts.refused[bearer === undefined ? 'missing' : 'registry-token'] ?? 0) + 1;
        res.writeHead(401, {
          'content-type': 'application/json; charset=utf-8',
          'docker-distribution-api-version': 'registry/2.0',
          'www-authenticate': `Bearer realm="http://${endpoint}${options.realmPath}",service="${options.registry}"`,
        });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
      counts.accepted++;
      passToRegistry(req, res, backend);
    })().catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    registry: options.registry,
    endpoint,
    endpointsEnv: `${options.registry}=${endpoint}`,
    backend,
    counts,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await backend.stop();
    },
  };
}
