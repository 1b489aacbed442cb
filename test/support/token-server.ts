// A small token server for distribution's token auth: docker-registry (auth.token) sends clients here
// with a Bearer challenge; we check Basic credentials or an OAuth2 refresh token and return a JWT
// (ES256, the signing certificate in `x5c`) granting the requested repository actions. Every request is
// recorded, so tests can count token fetches (reuse, expiry).
import { execFileSync } from 'node:child_process';
import { randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface TokenServerOptions {
  /** Accepted Basic credentials. */
  readonly users?: Readonly<Record<string, string>>;
  /** Accepted refresh tokens (docker `identitytoken`) and the account each stands for. */
  readonly refreshTokens?: Readonly<Record<string, string>>;
  /** Anonymous clients get pull (never push). Default false: anonymous requests get 401. */
  readonly anonymousPull?: boolean;
  /** Lifetime announced in `expires_in`. Default 300. */
  readonly expiresInSeconds?: number;
  /** Directory for the signing key and certificate; a temporary one by default. */
  readonly dir?: string;
}

export interface TokenRequestRecord {
  readonly method: string;
  readonly account: string | undefined;
  readonly scopes: readonly string[];
  readonly status: number;
}

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM certificate of the signing key: the registry's `rootcertbundle`. */
  readonly certFile: string;
  readonly requests: readonly TokenRequestRecord[];
  stop(): Promise<void>;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

function grantFor(
  scope: string,
  authenticated: boolean,
): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first === -1 || last === first) return undefined;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const wanted = scope.slice(last + 1).split(',');
  const actions = authenticated ? wanted : wanted.filter((a) => a === 'pull');
  return { type, name, actions };
}

async function readBody(request: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'sigward-token-')));
  const keyFile = path.join(dir, 'token-key.pem');
  const certFile = path.join(dir, 'token-cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=sigward-test-token-issuer',
    ],
    { stdio: 'ignore' },
  );
  const key = readFileSync(keyFile, 'utf8');
  const certDer = readFileSync(certFile, 'utf8')
    .replace(/-----[A-Z ]+-----/g, '')
    .replace(/\s+/g, '');
  const service = 'sigward-test-registry';
  const issuer = 'sigward-test-issuer';
  const expiresIn = options.expiresInSeconds ?? 300;
  const requests: TokenRequestRecord[] = [];

  const server = http.createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://token');
      let account: string | undefined;
      let scopes = url.searchParams
        .getAll('scope')
        .flatMap((s) => s.split(' '))
        .filter(Boolean);
      let authenticated = false;
      let refused: boolean;
      if (request.method === 'POST') {
        const form = new URLSearchParams(await readBody(request));
        scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        account = options.refreshTokens?.[form.get('refresh_token') ?? ''];
        authenticated = form.get('grant_type') === 'refresh_token' && account !== undefined;
        refused = !authenticated;
      } else {
        const header = request.headers.authorization;
        if (header?.startsWith('Basic ')) {
          const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
          const colon = decoded.indexOf(':');
          const user = decoded.slice(0, colon);
          authenticated = colon > 0 && options.users?.[user] === decoded.slice(colon + 1);
          refused = !authenticated;
          if (authenticated) account = user;
        } else {
          refused = options.anonymousPull !== true;
        }
      }
      const status = refused ? 401 : 200;
      requests.push({ method: request.method ?? '', account, scopes, status });
      if (refused) {
        response.writeHead(401, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [certDer] }));
      const claims = b64url(
        JSON.stringify({
          iss: issuer,
          sub: account ?? '',
          aud: service,
          exp: now + expiresIn,
          nbf: now - 10,
          iat: now,
          jti: randomUUID(),
          access: scopes.map((s) => grantFor(s, authenticated)).filter((g) => g !== undefined),
        }),
      );
      const signature = sign('sha256', Buffer.from(`${header}.${claims}`), {
        key,
        dsaEncoding: 'ieee-p1363',
      });
      const token = `${header}.${claims}.${b64url(signature)}`;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          token,
          access_token: token,
          expires_in: expiresIn,
          issued_at: new Date(now * 1000).toISOString(),
        }),
      );
    })().catch(() => {
      response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
