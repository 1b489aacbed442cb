// Registry credentials for AWS ECR private registries, from the workload's AWS identity: the SDK's
// default chain (env keys, IRSA's web identity token file + role ARN through AssumeRoleWithWebIdentity,
// EKS Pod Identity's container credentials endpoint, shared config, instance metadata), exchanged by
// ECR's GetAuthorizationToken for the registry's account and region. One token per registry, kept until
// `refreshMarginMs` before its expiry (ECR's last 12 h), one exchange at a time per registry. Failures
// are REGISTRY_UNAUTHORIZED (policy reason REGISTRY_AUTH) naming the AWS error, never a secret.
import type * as EcrSdk from '@aws-sdk/client-ecr';
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SigwardError } from '../errors.ts';
import type { ExchangedCredential, Keychain, ObtainedCredential } from '../oci/auth.ts';
import { parseEcrRegistry, type EcrRegistry } from './ecr-host.ts';
import { ExchangeCache, safeFailure } from './exchange-cache.ts';

/** What fromNodeProviderChain says when no provider in the chain had credentials. */
const noIdentityFound = /^Could not load credentials from any providers/;

/** Asks AWS for a registry's token; the default calls ECR with the SDK's default credential chain. */
export type EcrTokenFetcher = (registry: EcrRegistry, signal?: AbortSignal) => Promise<ObtainedCredential>;

export interface EcrCredentialsOptions {
  readonly fetchToken?: EcrTokenFetcher;
  /** Refresh this long before a token expires. Default 30 min (of ECR's 12 h). */
  readonly refreshMarginMs?: number;
  readonly now?: () => number;
  /** Registries kept. Default 256. */
  readonly maxEntries?: number;
  /** Bound on one exchange (credential chain + GetAuthorizationToken). Default 15 s. */
  readonly exchangeTimeoutMs?: number;
}

/** Reads GetAuthorizationToken's answer: base64 of `AWS:<password>`, and when it stops working. */
export function decodeAuthorizationToken(token: string): ObtainedCredential['credential'] {
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1) {
    throw new SigwardError(
      'REGISTRY_UNAUTHORIZED',
      'AWS ECR returned an authorization token of an unknown form',
      {
        details: { provider: 'ecr' },
      },
    );
  }
  return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The real exchange: ECR in the registry's region, credentials from the SDK's default chain. */
export function sdkTokenFetcher(): EcrTokenFetcher {
  let sdk: Promise<{ ecr: typeof EcrSdk; credentials: ReturnType<typeof fromNodeProviderChain> }> | undefined;
  const clients = new Map<string, ECRClient>();
  return async (registry, signal) => {
    // Loaded on the first ECR registry's 401: the SDK costs ~28 MiB of RSS, none where no ECR is used.
    sdk ??= Promise.all([import('@aws-sdk/client-ecr'), import('@aws-sdk/credential-providers')]).then(
      ([ecr, providers]) => ({ ecr, credentials: providers.fromNodeProviderChain() }),
    );
    const { ecr, credentials } = await sdk;
    const { ECRClient, GetAuthorizationTokenCommand } = ecr;
    const key = `${registry.region}${registry.fips ? ' fips' : ''}`;
    let client = clients.get(key);
    if (client === undefined) {
      // AWS_ENDPOINT_URL(_ECR) is honoured by the SDK itself (the tests point it at an emulator).
      client = new ECRClient({ region: registry.region, useFipsEndpoint: registry.fips, credentials });
      clients.set(key, client);
    }
    const answer = await client.send(
      new GetAuthorizationTokenCommand({ registryIds: [registry.account] }),
      signal === undefined ? {} : { abortSignal: signal },
    );
    const data = answer.authorizationData?.[0];
    if (data?.authorizationToken === undefined) {
      throw new SigwardError('REGISTRY_UNAUTHORIZED', 'AWS ECR returned no authorization data', {
        details: { provider: 'ecr' },
      });
    }
    return {
      credential: decodeAuthorizationToken(data.authorizationToken),
      ...(data.expiresAt === undefined ? {} : { expiresAt: data.expiresAt.getTime() }),
    };
  };
}

export class EcrCredentials {
  readonly #fetch: EcrTokenFetcher;
  readonly #cache: ExchangeCache;

  constructor(options: EcrCredentialsOptions = {}) {
    this.#fetch = options.fetchToken ?? sdkTokenFetcher();
    this.#cache = new ExchangeCache({
      refreshMarginMs: options.refreshMarginMs ?? 30 * 60 * 1000,
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
      ...(options.exchangeTimeoutMs === undefined ? {} : { exchangeTimeoutMs: options.exchangeTimeoutMs }),
      describeFailure: (host, error) => {
        const failure = safeFailure(error);
        // The chain's own last words name no place it looked: say which, so an operator knows what to set.
        const hint = noIdentityFound.test(failure.message)
          ? " (this process has no AWS identity: looked for env keys, IRSA's web identity token, EKS Pod Identity, shared config and instance metadata)"
          : '';
        return new SigwardError(
          'REGISTRY_UNAUTHORIZED',
          `AWS ECR gave no authorization token for ${host}: ${failure.name}: ${failure.message}${hint}`,
          { details: { registry: host, provider: 'ecr', awsError: failure.name } },
        );
      },
    });
  }

  /** A keychain that offers an ECR exchange for ECR hosts and nothing for any other registry. */
  keychain(): Keychain {
    return {
      credentialsFor: (host) => {
        const registry = parseEcrRegistry(host);
        return registry === undefined ? [] : [this.#credential(host.toLowerCase(), registry)];
      },
    };
  }

  #credential(host: string, registry: EcrRegistry): ExchangedCredential {
    return {
      kind: 'exchange',
      id: `ecr:${host}`,
      obtain: ({ refresh }) => this.obtain(host, registry, refresh),
    };
  }

  /** The registry's token: held until the margin before its expiry, one exchange at a time per host. */
  obtain(host: string, registry: EcrRegistry, refresh = false): Promise<ObtainedCredential> {
    return this.#cache.obtain(host, (signal) => this.#fetch(registry, signal), refresh);
  }
}
