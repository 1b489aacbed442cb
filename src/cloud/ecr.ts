// Registry credentials for AWS ECR private registries, from the workload's AWS identity: the SDK's
// default chain (env keys, IRSA's web identity token file + role ARN through AssumeRoleWithWebIdentity,
// EKS Pod Identity's container credentials endpoint, shared config, instance metadata), exchanged by
// ECR's GetAuthorizationToken for the registry's account and region. One token per registry, kept until
// `refreshMarginMs` before its expiry (ECR's last 12 h), one exchange at a time per registry. Failures
// are REGISTRY_UNAUTHORIZED (policy reason REGISTRY_AUTH) naming the AWS error, never a secret.
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SigwardError } from '../errors.ts';
import type { ExchangedCredential, Keychain, ObtainedCredential } from '../oci/auth.ts';
import { parseEcrRegistry, type EcrRegistry } from './ecr-host.ts';

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

const longSecretLike = /[A-Za-z0-9+/=_-]{32,}/g;

/** An AWS error in words that hold no secret: its name, and its message with long opaque runs cut. */
function awsFailure(error: unknown): { name: string; message: string } {
  const name = error instanceof Error ? error.name : 'Error';
  const raw = error instanceof Error ? error.message : String(error);
  return { name, message: raw.replace(longSecretLike, '[redacted]').slice(0, 300) };
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
  const credentials = fromNodeProviderChain();
  const clients = new Map<string, ECRClient>();
  return async (registry, signal) => {
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

interface Held {
  readonly obtained: ObtainedCredential;
  /** When to ask again (expiry minus the margin). */
  readonly renewAt: number;
}

export class EcrCredentials {
  readonly #fetch: EcrTokenFetcher;
  readonly #margin: number;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #timeoutMs: number;
  readonly #held = new Map<string, Held>();
  readonly #inflight = new Map<string, Promise<ObtainedCredential>>();

  constructor(options: EcrCredentialsOptions = {}) {
    this.#fetch = options.fetchToken ?? sdkTokenFetcher();
    this.#margin = options.refreshMarginMs ?? 30 * 60 * 1000;
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 256;
    this.#timeoutMs = options.exchangeTimeoutMs ?? 15_000;
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

  /**
   * The registry's token: the held one unless due for renewal (or `refresh`), else one exchange shared
   * by every caller that asks meanwhile. Bound by its own timeout, not by a caller's signal: another
   * caller may still want it (the authenticator stops waiting for an abandoned caller).
   */
  async obtain(host: string, registry: EcrRegistry, refresh = false): Promise<ObtainedCredential> {
    const held = this.#held.get(host);
    if (held !== undefined && !refresh && this.#now() < held.renewAt) return held.obtained;
    if (refresh) this.#held.delete(host);
    let running = this.#inflight.get(host);
    if (running === undefined) {
      running = this.#exchange(host, registry).finally(() => this.#inflight.delete(host));
      this.#inflight.set(host, running);
    }
    return running;
  }

  async #exchange(host: string, registry: EcrRegistry): Promise<ObtainedCredential> {
    let obtained: ObtainedCredential;
    try {
      obtained = await this.#fetch(registry, AbortSignal.timeout(this.#timeoutMs));
    } catch (error) {
      if (error instanceof SigwardError) throw error;
      const failure = awsFailure(error);
      throw new SigwardError(
        'REGISTRY_UNAUTHORIZED',
        `AWS ECR gave no authorization token for ${host}: ${failure.name}: ${failure.message}`,
        { details: { registry: host, provider: 'ecr', awsError: failure.name } },
      );
    }
    // A token without an expiry, or already within the margin (an emulator's fixed date), is used for
    // this request and not kept.
    const renewAt = (obtained.expiresAt ?? 0) - this.#margin;
    if (renewAt > this.#now()) {
      if (this.#held.size >= this.#maxEntries && !this.#held.has(host)) {
        const oldest = this.#held.keys().next();
        if (oldest.done !== true) this.#held.delete(oldest.value);
      }
      this.#held.set(host, { obtained, renewAt });
    }
    return obtained;
  }
}
