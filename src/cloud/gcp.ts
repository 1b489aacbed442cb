// Registry credentials for Google Artifact Registry and Container Registry, from the workload's Google
// identity through Application Default Credentials (google-auth-library): GOOGLE_APPLICATION_CREDENTIALS
// (a Workload Identity Federation `external_account` file, exchanged at Google's STS; or a key file),
// then the metadata server (GKE Workload Identity's, or a VM's). The OAuth2 access token is sent as
// Basic `oauth2accesstoken:<token>` to the registry's token service, as `gcloud auth configure-docker`
// and the kubelet's GCP provider do. One token serves every Google registry (one identity), kept until
// `refreshMarginMs` before its expiry, one exchange at a time. Failures are REGISTRY_UNAUTHORIZED
// (policy reason REGISTRY_AUTH) naming Google's error, never the token.
import type { GoogleAuth } from 'google-auth-library';
import { SigwardError } from '../errors.ts';
import type { ExchangedCredential, Keychain, ObtainedCredential } from '../oci/auth.ts';
import { ExchangeCache, safeFailure } from './exchange-cache.ts';
import { isGcpRegistry } from './gcp-host.ts';

/** The username Google's registries take with an OAuth2 access token as the password. */
export const GCP_REGISTRY_USERNAME = 'oauth2accesstoken';
/** The scope asked of the metadata server or STS: what Artifact Registry and GCR accept. */
export const GCP_REGISTRY_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export interface GcpAccessToken {
  readonly token: string;
  /** Epoch ms; undefined when Google does not say. */
  readonly expiresAt?: number;
}

/** Asks Google for an access token; `fresh` must not answer from any cache (the registry refused it). */
export type GcpTokenSource = (fresh: boolean) => Promise<GcpAccessToken>;

export interface GcpCredentialsOptions {
  readonly tokenSource?: GcpTokenSource;
  /** Refresh this long before a token expires. Default 5 min (of Google's 60), as the library does. */
  readonly refreshMarginMs?: number;
  readonly now?: () => number;
  /** Bound on one exchange (credential discovery + token). Default 15 s. */
  readonly exchangeTimeoutMs?: number;
}

/** The real source: Application Default Credentials; a fresh ask starts a new client (no cached token). */
export function applicationDefaultTokenSource(): GcpTokenSource {
  let auth: GoogleAuth | undefined;
  return async (fresh) => {
    if (auth === undefined || fresh) {
      // Loaded on the first Google registry's 401: no start-up cost where no Google registry is used.
      const { GoogleAuth } = await import('google-auth-library');
      auth = new GoogleAuth({ scopes: [GCP_REGISTRY_SCOPE] });
    }
    const client = await auth.getClient();
    const { token } = await client.getAccessToken();
    if (typeof token !== 'string' || token.length === 0) {
      throw new SigwardError('REGISTRY_UNAUTHORIZED', 'Google returned no access token', {
        details: { provider: 'gcp' },
      });
    }
    const expiry = client.credentials.expiry_date;
    return { token, ...(typeof expiry === 'number' && expiry > 1 ? { expiresAt: expiry } : {}) };
  };
}

/** The one cache key: every Google registry is reached with the same identity's token. */
const identityKey = 'gcp';

export class GcpCredentials {
  readonly #source: GcpTokenSource;
  readonly #cache: ExchangeCache;

  constructor(options: GcpCredentialsOptions = {}) {
    this.#source = options.tokenSource ?? applicationDefaultTokenSource();
    this.#cache = new ExchangeCache({
      refreshMarginMs: options.refreshMarginMs ?? 5 * 60 * 1000,
      maxEntries: 1,
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.exchangeTimeoutMs === undefined ? {} : { exchangeTimeoutMs: options.exchangeTimeoutMs }),
      describeFailure: (_key, error) => {
        const failure = safeFailure(error);
        return new SigwardError(
          'REGISTRY_UNAUTHORIZED',
          `Google gave no access token for its registries: ${failure.name}: ${failure.message}`,
          { details: { provider: 'gcp', googleError: failure.name } },
        );
      },
    });
  }

  /** A keychain that offers the Google token for Artifact Registry and GCR hosts only. */
  keychain(): Keychain {
    return {
      credentialsFor: (host) => (isGcpRegistry(host) ? [this.#credential()] : []),
    };
  }

  #credential(): ExchangedCredential {
    return { kind: 'exchange', id: 'gcp:workload-identity', obtain: ({ refresh }) => this.obtain(refresh) };
  }

  obtain(refresh = false): Promise<ObtainedCredential> {
    return this.#cache.obtain(
      identityKey,
      async () => {
        const { token, expiresAt } = await this.#source(refresh);
        return {
          credential: { kind: 'basic', username: GCP_REGISTRY_USERNAME, password: token },
          ...(expiresAt === undefined ? {} : { expiresAt }),
        };
      },
      refresh,
    );
  }
}
