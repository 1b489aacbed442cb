// Test doubles of Google's token issuers, on 127.0.0.1 (nothing real can run here): the GCE/GKE
// metadata server (`metadata.google.internal`, reached by google-auth-library through
// GCE_METADATA_HOST) and the Security Token Service of Workload Identity Federation (`sts.googleapis.com`
// /v1/token, reached through an external_account file's `token_url`). Each checks what the real one
// checks and refuses otherwise, and both issue into one `GoogleTokens` ledger, which the registry
// double (gar-front.ts) consults the way Artifact Registry asks Google whether a token is valid.
//
//   const tokens = new GoogleTokens();
//   const metadata = await startMetadataServerDouble({ tokens });  // GCE_METADATA_HOST=metadata.host
//   const sts = await startStsDouble({ tokens, audience, subjectToken });  // token_url: sts.tokenUrl
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

interface Issued {
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  readonly principal: string;
}

/** Every access token the doubles issued: scopes, principal and expiry, as Google's tokeninfo knows. */
export class GoogleTokens {
  readonly #issued = new Map<string, Issued>();
  /** Issued tokens, by the double that issued them. */
  readonly counts = { metadata: 0, sts: 0 };

  issue(principal: string, scopes: readonly string[], lifetimeSeconds: number): string {
    const token = `ya29.double-${randomBytes(24).toString('base64url')}`;
    this.#issued.set(token, { scopes, principal, expiresAt: Date.now() + lifetimeSeconds * 1000 });
    return token;
  }

  /** What a token stands for, or why it is not valid. */
  check(token: string): { ok: true; issued: Issued } | { ok: false; why: 'unknown' | 'expired' } {
    const issued = this.#issued.get(token);
    if (issued === undefined) return { ok: false, why: 'unknown' };
    return issued.expiresAt > Date.now() ? { ok: true, issued } : { ok: false, why: 'expired' };
  }

  /** Every token issued so far stops being valid (what an hour does). */
  expireAll(): void {
    for (const [token, issued] of this.#issued) this.#issued.set(token, { ...issued, expiresAt: 0 });
  }
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface MetadataServerDouble {
  /** `127.0.0.1:<port>`: the value of GCE_METADATA_HOST. */
  readonly host: string;
  /** Requests refused, by the check that refused them. */
  readonly refused: { flavor: number; forwarded: number; unbound: number };
  readonly served: string[];
  /** Whether the pod's Kubernetes service account is bound to a Google service account. */
  setBound(bound: boolean): void;
  stop(): Promise<void>;
}

/**
 * The metadata server's token protocol as GKE's (Workload Identity) and GCE's serve it: every request
 * needs `Metadata-Flavor: Google` (else 403), one carrying `X-Forwarded-For` is refused (403), every
 * answer carries `Metadata-Flavor: Google`; `instance/service-accounts/default/token` gives
 * `{access_token, expires_in, token_type}` for the bound account with the requested `scopes` (default
 * cloud-platform), and 404 when the service account is not bound (GKE's answer for an unbound one).
 */
export async function startMetadataServerDouble(options: {
  readonly tokens: GoogleTokens;
  readonly serviceAccount?: string;
  readonly lifetimeSeconds?: number;
}): Promise<MetadataServerDouble> {
  const email = options.serviceAccount ?? 'sigward@project-1.iam.gserviceaccount.com';
  const refused = { flavor: 0, forwarded: 0, unbound: 0 };
  const served: string[] = [];
  let bound = true;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://metadata.google.internal');
    const reply = (status: number, body: string, type = 'application/text'): void => {
      res.writeHead(status, {
        'metadata-flavor': 'Google',
        'content-type': type,
        server: 'Metadata Server for VM',
      });
      res.end(body);
    };
    if (req.headers['x-forwarded-for'] !== undefined) {
      refused.forwarded++;
      reply(403, 'Request denied: X-Forwarded-For header is not allowed.');
      return;
    }
    if (req.headers['metadata-flavor'] !== 'Google') {
      refused.flavor++;
      reply(403, 'Missing required header "Metadata-Flavor": "Google"');
      return;
    }
    served.push(url.pathname);
    const path = url.pathname.replace(/\/$/, '');
    const account = /^\/computeMetadata\/v1\/instance\/service-accounts\/(default|[^/]+)(\/.*)?$/.exec(path);
    if (path === '/computeMetadata/v1/instance') {
      reply(200, 'attributes/\nhostname\nid\nservice-accounts/\nzone\n');
    } else if (path === '/computeMetadata/v1/universe/universe-domain') {
      reply(200, 'googleapis.com');
    } else if (path === '/computeMetadata/v1/project/project-id') {
      reply(200, 'project-1');
    } else if (account !== null && (account[1] === 'default' || account[1] === email)) {
      if (!bound) {
        refused.unbound++;
        reply(404, 'Not Found');
      } else if (account[2] === '/email') {
        reply(200, email);
      } else if (account[2] === '/token') {
        const scopes = (url.searchParams.get('scopes') ?? CLOUD_PLATFORM_SCOPE).split(',').filter(Boolean);
        const lifetime = options.lifetimeSeconds ?? 3599;
        const token = options.tokens.issue(email, scopes, lifetime);
        options.tokens.counts.metadata++;
        reply(
          200,
          JSON.stringify({ access_token: token, expires_in: lifetime, token_type: 'Bearer' }),
          'application/json',
        );
      } else reply(404, 'Not Found');
    } else reply(404, 'Not Found');
  });
  const host = await listen(server);
  return { host, refused, served, setBound: (b) => (bound = b), stop: () => close(server) };
}

export interface StsDouble {
  /** `http://127.0.0.1:<port>/v1/token`: the external_account file's `token_url`. */
  readonly tokenUrl: string;
  readonly refused: Record<
    'grantType' | 'audience' | 'subjectTokenType' | 'subjectToken' | 'tokenType',
    number
  >;
  stop(): Promise<void>;
}

/**
 * STS's token exchange (RFC 8693) as Workload Identity Federation uses it: a form POST with
 * grant_type token-exchange, the pool provider's `audience`, `subject_token_type` jwt (or id_token),
 * `requested_token_type` access_token and the workload's `subject_token`; anything else is 400
 * `invalid_request`/`invalid_grant` with Google's wording. The federated access token it issues
 * stands for `principal://…/subject/<sub>` with the requested scope.
 */
export async function startStsDouble(options: {
  readonly tokens: GoogleTokens;
  /** `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/PR`. */
  readonly audience: string;
  /** The one subject token (the projected service-account token) the provider trusts. */
  readonly subjectToken: string;
  readonly lifetimeSeconds?: number;
}): Promise<StsDouble> {
  const refused: StsDouble['refused'] = {
    grantType: 0,
    audience: 0,
    subjectTokenType: 0,
    subjectToken: 0,
    tokenType: 0,
  };
  const server = http.createServer((req, res) => {
    void (async () => {
      const fail = (reason: keyof StsDouble['refused'], error: string, description: string): void => {
        refused[reason]++;
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error, error_description: description }));
      };
      const url = new URL(req.url ?? '/', 'http://sts');
      if (req.method !== 'POST' || url.pathname !== '/v1/token') {
        res.writeHead(404);
        res.end();
        return;
      }
      const form = new URLSearchParams(await readBody(req));
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange') {
        fail('grantType', 'unsupported_grant_type', 'Invalid value for "grant_type".');
      } else if (form.get('audience') !== options.audience) {
        fail('audience', 'invalid_request', 'Invalid value for "audience".');
      } else if (
        !['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token'].includes(
          form.get('subject_token_type') ?? '',
        )
      ) {
        fail('subjectTokenType', 'invalid_request', 'Invalid value for "subject_token_type".');
      } else if (form.get('requested_token_type') !== 'urn:ietf:params:oauth:token-type:access_token') {
        fail('tokenType', 'invalid_request', 'Invalid value for "requested_token_type".');
      } else if (form.get('subject_token') !== options.subjectToken) {
        fail('subjectToken', 'invalid_grant', 'The provided subject token is invalid.');
      } else {
        const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        const lifetime = options.lifetimeSeconds ?? 3600;
        const token = options.tokens.issue(`principal:${options.audience}`, scopes, lifetime);
        options.tokens.counts.sts++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            access_token: token,
            issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
            token_type: 'Bearer',
            expires_in: lifetime,
          }),
        );
      }
    })();
  });
  const host = await listen(server);
  return { tokenUrl: `http://${host}/v1/token`, refused, stop: () => close(server) };
}
