// A test double of Azure Container Registry's authentication (Azure/acr docs/AAD-OAuth.md), in front
// of a real registry on loopback (test/support/bearer-front.ts). `POST /oauth2/exchange` takes a form
// with grant_type=access_token, service=<login server>, tenant and an Entra access_token, and — only
// when the token is one Entra issued (the Entra double's ledger), unexpired, for the tenant, and for an
// audience ACR accepts (its own, or Resource Manager's unless `armAudienceDisabled`) — returns
// `{"refresh_token": …}` (a JWT naming the registry, 3 h). The realm `/oauth2/token` then accepts only
// such a refresh token: Basic with the null-GUID username, or a refresh_token grant; anything else is
// refused as ACR refuses it.
//
//   const acr = await startAcrFront({ entra: entra.tokens, tenant, registry: 'sigward.azurecr.io' });
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { sendJson, startBearerFront, type Authorization, type BearerFront } from './bearer-front.ts';
import { testJwt, type EntraTokens } from './entra-double.ts';

export const NULL_GUID = '00000000-0000-0000-0000-000000000000';
const acrAudience = 'https://containerregistry.azure.net';
const armAudiences = ['https://management.azure.com', 'https://management.core.windows.net'];

export interface AcrFront extends BearerFront {
  /** Exchanges answered with a refresh token, refused by reason, and the `tenant` each one sent. */
  readonly exchanges: { issued: number; refused: Record<string, number>; tenants: (string | null)[] };
  /** Every refresh token issued so far stops being valid (what 3 hours do). */
  expireRefreshTokens(): void;
}

export async function startAcrFront(options: {
  readonly entra: EntraTokens;
  readonly tenant: string;
  readonly registry?: string;
  readonly armAudienceDisabled?: boolean;
}): Promise<AcrFront> {
  const registry = options.registry ?? 'sigward.azurecr.io';
  const refreshTokens = new Map<string, number>();
  const exchanges: AcrFront['exchanges'] = { issued: 0, refused: {}, tenants: [] };
  const accepted = [acrAudience, ...(options.armAudienceDisabled === true ? [] : armAudiences)];

  const exchange = (req: http.IncomingMessage, res: http.ServerResponse, body: string): boolean => {
    if (new URL(req.url ?? '/', 'http://acr').pathname !== '/oauth2/exchange') return false;
    const refuse = (reason: string, status: number, code: string, message: string): boolean => {
      exchanges.refused[reason] = (exchanges.refused[reason] ?? 0) + 1;
      sendJson(res, status, { errors: [{ code, message }] });
      return true;
    };
    if (req.method !== 'POST') return refuse('method', 405, 'UNSUPPORTED', 'method not allowed');
    if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return refuse('content_type', 400, 'BAD_REQUEST', 'expected a form');
    }
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'access_token') {
      return refuse('grant_type', 400, 'UNSUPPORTED_GRANT_TYPE', 'grant_type must be access_token');
    }
    if (form.get('service') !== registry) return refuse('service', 400, 'INVALID_SERVICE', 'unknown service');
    const checked = options.entra.check(form.get('access_token') ?? '');
    if (checked === 'unknown') return refuse('access_token', 401, 'UNAUTHORIZED', 'invalid access token');
    if (checked === 'expired') return refuse('expired', 401, 'UNAUTHORIZED', 'the access token expired');
    const tenant = form.get('tenant');
    exchanges.tenants.push(tenant);
    if (checked.tenant !== options.tenant || (tenant !== null && tenant !== checked.tenant)) {
      return refuse('tenant', 401, 'UNAUTHORIZED', 'tenant mismatch');
    }
    if (!accepted.includes(checked.audience.replace(/\/$/, ''))) {
      return refuse('audience', 401, 'UNAUTHORIZED', 'the access token audience is not accepted');
    }
    const exp = Math.floor(Date.now() / 1000) + 3 * 3600;
    const refreshToken = testJwt({
      jti: randomUUID(),
      sub: checked.clientId,
      aud: registry,
      exp,
      iss: 'Azure Container Registry',
      grant_type: 'refresh_token',
      tenant: checked.tenant,
    });
    refreshTokens.set(refreshToken, exp * 1000);
    exchanges.issued++;
    sendJson(res, 200, { refresh_token: refreshToken });
    return true;
  };

  const valid = (token: string | null | undefined): Authorization => {
    const until = refreshTokens.get(token ?? '');
    if (until === undefined) return { reason: 'refresh_token' };
    return until > Date.now() ? true : { reason: 'expired_refresh_token' };
  };

  const front = await startBearerFront({
    registry,
    realmPath: '/oauth2/token',
    route: exchange,
    authorize: ({ basic, form }) => {
      if (form !== undefined) return valid(form.get('refresh_token'));
      if (basic === undefined) return { reason: 'missing' };
      if (basic.username !== NULL_GUID) return { reason: 'username' };
      return valid(basic.password);
    },
  });
  return {
    ...front,
    exchanges,
    expireRefreshTokens: () => {
      for (const token of refreshTokens.keys()) refreshTokens.set(token, 0);
    },
  };
}
