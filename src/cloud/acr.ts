// Registry credentials for Azure Container Registry, from the workload's Microsoft Entra identity
// (@azure/identity): a service principal in the environment (AZURE_CLIENT_ID + AZURE_TENANT_ID +
// secret or certificate), AKS Workload Identity (AZURE_CLIENT_ID, AZURE_TENANT_ID,
// AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST: the projected token is the client assertion), then
// a managed identity. The Entra access token is exchanged at the registry's `POST /oauth2/exchange`
// (grant_type=access_token) for an ACR refresh token, sent with the null-GUID username as ACR and
// `az acr login` expect. One refresh token per registry, kept until `refreshMarginMs` before its
// expiry, one exchange at a time. Failures are REGISTRY_UNAUTHORIZED naming Azure's or ACR's error,
// never a token.
import type { TokenCredential } from '@azure/identity';
import { SigwardError } from '../errors.ts';
import type { ExchangedCredential, Keychain, ObtainedCredential } from '../oci/auth.ts';
import type { HttpTransport } from '../oci/http.ts';
import { registryErrorOf } from '../oci/registry-errors.ts';
import { parseAcrRegistry, type AcrRegistry, type AzureCloud } from './acr-host.ts';
import { ExchangeCache, safeFailure } from './exchange-cache.ts';

/** The username that tells ACR the password is one of its refresh tokens. */
export const ACR_REFRESH_TOKEN_USERNAME = '00000000-0000-0000-0000-000000000000';

/**
 * The Entra scope asked per cloud. Public cloud: ACR's own audience, the one a registry with
 * "authentication-as-arm" disabled still accepts. Azure China and US Government: their Resource
 * Manager audience (Azure's SDKs' ContainerRegistryAudience), accepted unless that policy is off.
 */
export const ACR_TOKEN_SCOPES: Readonly<Record<AzureCloud, string>> = {
  public: 'https://containerregistry.azure.net/.default',
  china: 'https://management.chinacloudapi.cn/.default',
  usgov: 'https://management.usgovcloudapi.net/.default',
};

/** Entra's sign-in host per cloud, used when AZURE_AUTHORITY_HOST does not name one. */
const authorityHosts: Readonly<Record<AzureCloud, string>> = {
  public: 'https://login.microsoftonline.com',
  china: 'https://login.chinacloudapi.cn',
  usgov: 'https://login.microsoftonline.us',
};

export interface EntraAccessToken {
  readonly token: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

/** Asks Microsoft Entra for an access token for the scope, in the registry's cloud. */
export type EntraTokenSource = (
  cloud: AzureCloud,
  scope: string,
  signal: AbortSignal,
) => Promise<EntraAccessToken>;

export interface AcrCredentialsOptions {
  /** How to reach the registries' /oauth2/exchange (the same transport rules as registry traffic). */
  readonly transport: HttpTransport;
  readonly tokenSource?: EntraTokenSource;
  /** The tenant sent to the exchange. Default AZURE_TENANT_ID, else the Entra token's `tid`. */
  readonly tenant?: string;
  /** Refresh this long before a refresh token expires. Default 15 min (of ACR's 3 h). */
  readonly refreshMarginMs?: number;
  readonly now?: () => number;
  readonly maxEntries?: number;
  /** Bound on one exchange (Entra token + ACR exchange). Default 15 s. */
  readonly exchangeTimeoutMs?: number;
}

/** The real source: environment service principal, then Workload Identity, then managed identity. */
export function azureIdentityTokenSource(env: NodeJS.ProcessEnv = process.env): EntraTokenSource {
  const credentials = new Map<AzureCloud, TokenCredential>();
  const credentialFor = async (cloud: AzureCloud): Promise<TokenCredential> => {
    let credential = credentials.get(cloud);
    if (credential === undefined) {
      // Loaded on the first ACR's 401: no start-up cost where no ACR is used.
      const {
        ChainedTokenCredential,
        EnvironmentCredential,
        ManagedIdentityCredential,
        WorkloadIdentityCredential,
      } = await import('@azure/identity');
      // The sign-in host is the one the environment names (AKS's webhook sets it), trusted as is: no
      // instance-discovery call to login.microsoftonline.com to vouch for it.
      const options = {
        authorityHost: env['AZURE_AUTHORITY_HOST'] ?? authorityHosts[cloud],
        disableInstanceDiscovery: true,
      };
      const chain: TokenCredential[] = [new EnvironmentCredential(options)];
      if (env['AZURE_FEDERATED_TOKEN_FILE'] !== undefined)
        chain.push(new WorkloadIdentityCredential(options));
      const clientId = env['AZURE_CLIENT_ID'];
      chain.push(new ManagedIdentityCredential(clientId === undefined ? {} : { clientId }));
      credential = new ChainedTokenCredential(...chain);
      credentials.set(cloud, credential);
    }
    return credential;
  };
  return async (cloud, scope, signal) => {
    const answer = await (await credentialFor(cloud)).getToken(scope, { abortSignal: signal });
    if (answer === null) throw new Error('no Azure identity gave a token');
    return { token: answer.token, expiresAt: answer.expiresOnTimestamp };
  };
}

/** The failure that ended a credential chain (the earlier ones only say "not configured here"). */
function lastInChain(error: unknown): unknown {
  const errors = (error as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(errors) && errors.length > 0 ? errors[errors.length - 1] : error;
}

/** A JWT's payload claims, or an empty record when the token is not a readable JWT. */
function jwtClaims(token: string): Record<string, unknown> {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const maxExchangeResponseBytes = 64 * 1024;

export class AcrCredentials {
  readonly #transport: HttpTransport;
  readonly #source: EntraTokenSource;
  readonly #tenant: string | undefined;
  readonly #cache: ExchangeCache;

  constructor(options: AcrCredentialsOptions) {
    this.#transport = options.transport;
    this.#source = options.tokenSource ?? azureIdentityTokenSource();
    this.#tenant = options.tenant ?? process.env['AZURE_TENANT_ID'];
    this.#cache = new ExchangeCache({
      refreshMarginMs: options.refreshMarginMs ?? 15 * 60 * 1000,
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
      ...(options.exchangeTimeoutMs === undefined ? {} : { exchangeTimeoutMs: options.exchangeTimeoutMs }),
      describeFailure: (host, error) => {
        const failure = safeFailure(lastInChain(error));
        return new SigwardError(
          'REGISTRY_UNAUTHORIZED',
          `Azure gave no ACR credential for ${host}: ${failure.name}: ${failure.message}`,
          { details: { registry: host, provider: 'acr', azureError: failure.name } },
        );
      },
    });
  }

  /** A keychain that offers the ACR exchange for ACR login servers and nothing for any other registry. */
  keychain(): Keychain {
    return {
      credentialsFor: (host) => {
        const registry = parseAcrRegistry(host);
        return registry === undefined ? [] : [this.#credential(registry)];
      },
    };
  }

  #credential(registry: AcrRegistry): ExchangedCredential {
    return {
      kind: 'exchange',
      id: `acr:${registry.host}`,
      obtain: ({ refresh }) => this.obtain(registry, refresh),
    };
  }

  obtain(registry: AcrRegistry, refresh = false): Promise<ObtainedCredential> {
    return this.#cache.obtain(registry.host, (signal) => this.#exchange(registry, signal), refresh);
  }

  async #exchange(registry: AcrRegistry, signal: AbortSignal): Promise<ObtainedCredential> {
    const entra = await this.#source(registry.cloud, ACR_TOKEN_SCOPES[registry.cloud], signal);
    const tid = jwtClaims(entra.token)['tid'];
    const tenant = this.#tenant ?? (typeof tid === 'string' ? tid : undefined);
    const form = new URLSearchParams({ grant_type: 'access_token', service: registry.host });
    if (tenant !== undefined) form.set('tenant', tenant);
    form.set('access_token', entra.token);
    const response = await this.#transport.request({
      method: 'POST',
      url: new URL('oauth2/exchange', this.#transport.registryUrl(registry.host)),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(form.toString(), 'utf8'),
      maxBytes: maxExchangeResponseBytes,
      signal,
    });
    if (response.status !== 200) {
      // ACR's error code only, never its message (it may echo input).
      const { code } = registryErrorOf(response.body);
      const hint = response.status === 401 ? `: ${refusalHint(registry, tenant)}` : '';
      throw new SigwardError(
        'REGISTRY_UNAUTHORIZED',
        `Azure gave no ACR credential for ${registry.host}: its /oauth2/exchange answered ${response.status}${code === undefined ? '' : ` (${code})`}${hint}`,
        { details: { registry: registry.host, provider: 'acr', status: response.status } },
      );
    }
    const refreshToken = refreshTokenOf(response.body);
    if (refreshToken === undefined) {
      throw new SigwardError(
        'REGISTRY_UNAUTHORIZED',
        `Azure gave no ACR credential for ${registry.host}: its /oauth2/exchange returned no refresh token`,
        { details: { registry: registry.host, provider: 'acr' } },
      );
    }
    const exp = jwtClaims(refreshToken)['exp'];
    return {
      credential: { kind: 'basic', username: ACR_REFRESH_TOKEN_USERNAME, password: refreshToken },
      expiresAt: typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : entra.expiresAt,
    };
  }
}

function parsedJson(body: Uint8Array): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(body).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function refreshTokenOf(body: Uint8Array): string | undefined {
  const token = parsedJson(body)['refresh_token'];
  return typeof token === 'string' && /^[\x21-\x7e]+$/.test(token) ? token : undefined;
}

/**
 * Why ACR refuses an Entra token at its exchange, as an operator can check it: the identity's tenant,
 * its role on the registry, and (where sigward asks for the Resource Manager audience) the registry's
 * authentication-as-arm policy.
 */
function refusalHint(registry: AcrRegistry, tenant: string | undefined): string {
  const tenantSent =
    tenant === undefined
      ? 'no tenant was sent'
      : `the tenant sent was ${tenant} (AZURE_TENANT_ID, else the token's tid)`;
  const arm =
    registry.cloud === 'public'
      ? ''
      : `; in this cloud the token is for Azure Resource Manager (${ACR_TOKEN_SCOPES[registry.cloud]}), which a registry with the authentication-as-arm policy disabled refuses`;
  return `ACR refused the Entra token: the identity must belong to the registry's Entra tenant (${tenantSent}) and hold AcrPull (or a role with registries/pull/read) on the registry${arm}`;
}
