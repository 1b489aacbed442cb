// A test double of Microsoft Entra ID's token endpoint (login.microsoftonline.com) on 127.0.0.1 over
// TLS (MSAL refuses an authority that is not https), for @azure/identity's WorkloadIdentityCredential
// pointed at it through AZURE_AUTHORITY_HOST. Like Entra it serves the tenant's OpenID configuration
// and the v2.0 token endpoint, where it accepts only the client-credentials grant of the configured
// app with a `jwt-bearer` client assertion equal to the federated (projected) token it trusts, whose
// `aud` is `api://AzureADTokenExchange`, and a `<resource>/.default` scope; anything else is 400/401
// with Entra's error shape and AADSTS code. Issued tokens go into `EntraTokens`, the ledger the ACR
// double (acr-front.ts) checks an access token against, as ACR asks Entra. Managed identity's IMDS
// path (the test points AZURE_POD_IDENTITY_AUTHORITY_HOST here so that no probe leaves loopback) needs
// `Metadata: true` and serves tokens only for the user-assigned identity set, else "Identity not found".
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBody, sendJson } from './bearer-front.ts';
import { makeTestTls } from './tls.ts';

export const FEDERATED_AUDIENCE = 'api://AzureADTokenExchange';

interface EntraIssued {
  readonly audience: string;
  readonly tenant: string;
  readonly clientId: string;
  readonly expiresAt: number;
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsigned-looking JWT with these claims (the doubles check tokens by their ledger, not a key). */
export function testJwt(claims: Record<string, unknown>): string {
  return `${b64url({ typ: 'JWT', alg: 'RS256', kid: 'double' })}.${b64url(claims)}.${Buffer.from(randomUUID()).toString('base64url')}`;
}

export class EntraTokens {
  readonly #issued = new Map<string, EntraIssued>();
  issuedCount = 0;

  issue(claims: Omit<EntraIssued, 'expiresAt'>, lifetimeSeconds: number): string {
    const exp = Math.floor(Date.now() / 1000) + lifetimeSeconds;
    const token = testJwt({
      aud: claims.audience,
      tid: claims.tenant,
      appid: claims.clientId,
      oid: randomUUID(),
      exp,
      iss: `https://sts.windows.net/${claims.tenant}/`,
    });
    this.#issued.set(token, { ...claims, expiresAt: exp * 1000 });
    this.issuedCount++;
    return token;
  }

  check(token: string): EntraIssued | 'unknown' | 'expired' {
    const issued = this.#issued.get(token);
    if (issued === undefined) return 'unknown';
    return issued.expiresAt > Date.now() ? issued : 'expired';
  }
}

export interface EntraDouble {
  /** `https://127.0.0.1:<port>`: the value of AZURE_AUTHORITY_HOST (and AZURE_POD_IDENTITY_AUTHORITY_HOST). */
  readonly authorityHost: string;
  /** The test CA's PEM: trust it with tls.setDefaultCACertificates. */
  readonly caPem: string;
  readonly tokens: EntraTokens;
  readonly refused: Record<string, number>;
  /** Paths asked, in order (no query). */
  readonly served: string[];
  /** The user-assigned managed identity IMDS serves tokens for (none: "Identity not found"). */
  setManagedIdentity(clientId: string | undefined): void;
  stop(): Promise<void>;
}

function claimsOf(jwt: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return {};
  }
}

export async function startEntraDouble(options: {
  readonly tenant: string;
  readonly clientId: string;
  /** The projected service-account token the app's federated credential trusts. */
  readonly federatedToken: string;
  readonly lifetimeSeconds?: number;
}): Promise<EntraDouble> {
  const tls = makeTestTls(mkdtempSync(join(tmpdir(), 'sigward-entra-')));
  const tokens = new EntraTokens();
  const refused: Record<string, number> = {};
  const served: string[] = [];
  let managedIdentity: string | undefined;
  let base = '';
  const aadError = (
    res: Parameters<typeof sendJson>[0],
    reason: string,
    status: number,
    error: string,
    code: number,
    text: string,
  ): void => {
    refused[reason] = (refused[reason] ?? 0) + 1;
    sendJson(res, status, {
      error,
      error_description: `AADSTS${code}: ${text}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
      trace_id: randomUUID(),
      correlation_id: randomUUID(),
    });
  };
  const server = https.createServer(
    { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), minVersion: 'TLSv1.2' },
    (req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', base);
        served.push(url.pathname);
        const body = await readBody(req);
        const tenantPath = `/${options.tenant}`;
        if (url.pathname === `${tenantPath}/v2.0/.well-known/openid-configuration`) {
          sendJson(res, 200, {
            issuer: `${base}${tenantPath}/v2.0`,
            authorization_endpoint: `${base}${tenantPath}/oauth2/v2.0/authorize`,
            token_endpoint: `${base}${tenantPath}/oauth2/v2.0/token`,
            device_authorization_endpoint: `${base}${tenantPath}/oauth2/v2.0/devicecode`,
            end_session_endpoint: `${base}${tenantPath}/oauth2/v2.0/logout`,
            jwks_uri: `${base}${tenantPath}/discovery/v2.0/keys`,
            response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
            token_endpoint_auth_methods_supported: [
              'client_secret_post',
              'private_key_jwt',
              'client_secret_basic',
            ],
            tenant_region_scope: 'EU',
          });
        } else if (url.pathname === '/common/discovery/instance') {
          const host = new URL(base).host;
          sendJson(res, 200, {
            tenant_discovery_endpoint: `${base}${tenantPath}/v2.0/.well-known/openid-configuration`,
            'api-version': '1.1',
            metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
          });
        } else if (url.pathname === `${tenantPath}/oauth2/v2.0/token` && req.method === 'POST') {
          const form = new URLSearchParams(body);
          const scope = (form.get('scope') ?? '').split(' ').find((s) => s.endsWith('/.default'));
          const assertion = form.get('client_assertion') ?? '';
          if (form.get('grant_type') !== 'client_credentials') {
            aadError(
              res,
              'grant_type',
              400,
              'unsupported_grant_type',
              70003,
              'The app requested an unsupported grant type.',
            );
          } else if (form.get('client_id') !== options.clientId) {
            aadError(
              res,
              'client_id',
              400,
              'unauthorized_client',
              700016,
              `Application with identifier '${form.get('client_id')}' was not found in the directory.`,
            );
          } else if (
            form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
          ) {
            aadError(
              res,
              'assertion_type',
              400,
              'invalid_request',
              900144,
              "The request body must contain the following parameter: 'client_assertion_type'.",
            );
          } else if (claimsOf(assertion)['aud'] !== FEDERATED_AUDIENCE) {
            aadError(
              res,
              'assertion_audience',
              400,
              'invalid_client',
              700212,
              `No matching federated identity record found for presented assertion audience.`,
            );
          } else if (assertion !== options.federatedToken) {
            aadError(
              res,
              'assertion',
              400,
              'invalid_client',
              700213,
              'No matching federated identity record found for presented assertion subject.',
            );
          } else if (scope === undefined) {
            aadError(
              res,
              'scope',
              400,
              'invalid_scope',
              1002012,
              'The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.',
            );
          } else {
            const lifetime = options.lifetimeSeconds ?? 3599;
            const audience = scope.slice(0, -'/.default'.length);
            const token = tokens.issue(
              { audience, tenant: options.tenant, clientId: options.clientId },
              lifetime,
            );
            sendJson(res, 200, {
              token_type: 'Bearer',
              expires_in: lifetime,
              ext_expires_in: lifetime,
              access_token: token,
            });
          }
        } else if (url.pathname.replace(/\/$/, '') === '/metadata/identity/oauth2/token') {
          // IMDS: the Metadata header is required; with no identity assigned the answer is 400.
          const missing = req.headers['metadata'] !== 'true';
          const resource = url.searchParams.get('resource') ?? '';
          const known =
            managedIdentity !== undefined && url.searchParams.get('client_id') === managedIdentity;
          if (missing || !known || resource === '') {
            const reason = missing ? 'imds_header' : 'managed_identity';
            refused[reason] = (refused[reason] ?? 0) + 1;
            sendJson(res, 400, {
              error: 'invalid_request',
              error_description: missing ? 'Required metadata header not specified' : 'Identity not found',
            });
          } else {
            const lifetime = options.lifetimeSeconds ?? 3599;
            const audience = resource.replace(/\/$/, '');
            const token = tokens.issue(
              { audience, tenant: options.tenant, clientId: managedIdentity ?? '' },
              lifetime,
            );
            sendJson(res, 200, {
              access_token: token,
              client_id: managedIdentity,
              expires_in: String(lifetime),
              expires_on: String(Math.floor(Date.now() / 1000) + lifetime),
              resource,
              token_type: 'Bearer',
            });
          }
        } else {
          sendJson(res, 404, { error: 'not_found' });
        }
      })().catch(() => {
        res.writeHead(500);
        res.end();
      });
    },
  );
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    authorityHost: base,
    caPem: tls.caPem,
    tokens,
    refused,
    served,
    setManagedIdentity: (clientId) => (managedIdentity = clientId),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
