// The token service of distribution's token auth: exchanges a credential (Basic, an OAuth2 refresh
// token, or nothing) for a bearer token scoped to repositories, and reads its lifetime.
import { SigwardError } from '../errors.ts';
import type { RegistryCredential } from './auth.ts';
import type { Challenge } from './challenge.ts';
import type { HttpTransport } from './http.ts';
import { statusError } from './registry-errors.ts';
import { scopeString, type Scope } from './token-cache.ts';

const maxTokenResponseBytes = 1024 * 1024;

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

export async function fetchToken(
  transport: HttpTransport,
  registry: string,
  scopes: readonly Scope[],
  challenge: Challenge,
  credential: RegistryCredential | undefined,
): Promise<{ token: string; lifetimeMs: number }> {
  const realm = challenge.params['realm'];
  let url: URL;
  try {
    url = new URL(realm ?? '');
  } catch {
    throw new SigwardError('REGISTRY_PROTOCOL', `${registry} sent a Bearer challenge without a valid realm`, {
      details: { registry },
    });
  }
  const service = challenge.params['service'];
  const scopeStrings = scopes.map(scopeString);
  let response;
  if (credential?.kind === 'identity-token') {
    // OAuth2 refresh-token grant, as `docker login` identity tokens require.
    const form = new URLSearchParams({ grant_type: 'refresh_token', client_id: 'sigward' });
    if (service !== undefined) form.set('service', service);
    form.set('scope', scopeStrings.join(' '));
    form.set('refresh_token', credential.identityToken);
    response = await transport.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString(), 'utf8'),
      maxBytes: maxTokenResponseBytes,
    });
  } else {
    if (service !== undefined) url.searchParams.set('service', service);
    for (const scope of scopeStrings) url.searchParams.append('scope', scope);
    if (credential?.kind === 'basic') url.searchParams.set('account', credential.username);
    response = await transport.request({
      method: 'GET',
      url,
      ...(credential?.kind === 'basic'
        ? { authorization: basicAuthorization(credential.username, credential.password) }
        : {}),
      maxBytes: maxTokenResponseBytes,
    });
  }
  if (response.status !== 200) throw statusError(response, 'token request', `token service of ${registry}`);
  return parseTokenResponse(response.body, registry);
}

function parseTokenResponse(body: Uint8Array, registry: string): { token: string; lifetimeMs: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const token = record['token'] ?? record['access_token'];
  if (typeof token !== 'string' || token.length === 0 || /[\s]/.test(token)) {
    throw new SigwardError('REGISTRY_PROTOCOL', `the token service of ${registry} returned no usable token`, {
      details: { registry },
    });
  }
  const expiresIn = record['expires_in'];
  // The distribution spec's default and minimum is 60 s; renew a little before the registry would refuse.
  const seconds = typeof expiresIn === 'number' && Number.isFinite(expiresIn) ? Math.max(expiresIn, 60) : 60;
  return { token, lifetimeMs: seconds * 900 };
}
