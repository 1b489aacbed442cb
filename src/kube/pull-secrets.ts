// Registry credentials of a workload, the way the kubelet finds them: the pod's imagePullSecrets, then
// those of its service account. Least privilege: `get` on the service account and on each named
// secret of the namespace, never list or watch. A missing or unreadable secret is skipped (the
// kubelet does the same) and the rest still apply; parsed keychains are kept briefly so a burst of
// pods does not turn into a burst of apiserver reads. Secrets never reach a log line or an error.
// Also the one named pull secret of a policy's signatureRepository (`secretKeychain`): there a missing
// or unusable secret is an error naming it, since the policy asked for it.
import { LRUCache } from 'lru-cache';
import type { CoreApi } from './client/apis.ts';
import { statusOf } from './client/errors.ts';
import {
  anonymousKeychain,
  combineKeychains,
  dockerConfigKeychain,
  parseDockerConfigJson,
} from '../oci/auth.ts';
import type { DockerConfig, Keychain } from '../oci/auth.ts';
import { SigwardError } from '../errors.ts';

export interface WorkloadCredentials {
  readonly namespace: string;
  /** The pod's (or pod template's) serviceAccountName; `default` when empty. */
  readonly serviceAccountName?: string;
  /** Names from the pod's imagePullSecrets. */
  readonly imagePullSecrets?: readonly string[];
}

export interface PullSecretEvents {
  /** A secret or service account could not be read (no secret content, only names and status). */
  unreadable?(what: string, status: number | undefined): void;
}

export interface PullSecretOptions {
  /** How long a read secret or service account is reused. Default 30 s. */
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  readonly events?: PullSecretEvents;
}

type Entry = {
  readonly config?: DockerConfig;
  readonly secrets?: readonly string[];
  /** The read failed: its HTTP status, or null when the apiserver did not answer. */
  readonly failed?: number | null;
};

export class PullSecretKeychains {
  readonly #core: Pick<CoreApi, 'readSecret' | 'readServiceAccount'>;
  readonly #cache: LRUCache<string, Entry>;
  readonly #inflight = new Map<string, Promise<Entry>>();
  readonly #events: PullSecretEvents;

  constructor(core: Pick<CoreApi, 'readSecret' | 'readServiceAccount'>, options: PullSecretOptions = {}) {
    this.#core = core;
    this.#events = options.events ?? {};
    this.#cache = new LRUCache({ max: options.maxEntries ?? 5000, ttl: options.ttlMs ?? 30_000 });
  }

  async keychainFor(workload: WorkloadCredentials): Promise<Keychain> {
    const account = workload.serviceAccountName || 'default';
    const fromAccount = await this.#read(`sa/${workload.namespace}/${account}`, () =>
      this.#serviceAccount(workload.namespace, account),
    );
    const names = [...new Set([...(workload.imagePullSecrets ?? []), ...(fromAccount.secrets ?? [])])];
    const configs: DockerConfig[] = [];
    for (const name of names) {
      const entry = await this.#read(`secret/${workload.namespace}/${name}`, () =>
        this.#secret(workload.namespace, name),
      );
      if (entry.config !== undefined) configs.push(entry.config);
    }
    if (configs.length === 0) return anonymousKeychain;
    return combineKeychains(dockerConfigKeychain(configs));
  }

  /**
   * The credentials of one named docker-registry Secret (a policy's `signatureRepository.pullSecretRef`),
   * read like a workload's (same cache). Throws POLICY_PULL_SECRET_UNAVAILABLE naming the secret when it
   * is missing, unreadable or holds no docker config.
   */
  async secretKeychain(ref: { readonly namespace: string; readonly name: string }): Promise<Keychain> {
    const entry = await this.#read(`secret/${ref.namespace}/${ref.name}`, () =>
      this.#secret(ref.namespace, ref.name),
    );
    if (entry.config !== undefined) return dockerConfigKeychain([entry.config]);
    const secret = `the pull secret ${ref.namespace}/${ref.name}`;
    const why =
      entry.failed === undefined
        ? `${secret} holds no usable .dockerconfigjson or .dockercfg`
        : entry.failed === 404
          ? `${secret} does not exist`
          : entry.failed === 403
            ? `sigward may not read ${secret} (403 Forbidden)`
            : `${secret} could not be read (${entry.failed === null ? 'the apiserver did not answer' : `HTTP ${entry.failed}`})`;
    throw new SigwardError('POLICY_PULL_SECRET_UNAVAILABLE', `${why} (signatureRepository.pullSecretRef)`);
  }

  #read(key: string, load: () => Promise<Entry>): Promise<Entry> {
    const cached = this.#cache.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    let running = this.#inflight.get(key);
    if (running === undefined) {
      running = load()
        .then((entry) => {
          this.#cache.set(key, entry);
          return entry;
        })
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, running);
    }
    return running;
  }

  async #serviceAccount(namespace: string, name: string): Promise<Entry> {
    try {
      const account = await this.#core.readServiceAccount({ namespace, name });
      return { secrets: (account.imagePullSecrets ?? []).flatMap((r) => (r.name ? [r.name] : [])) };
    } catch (error) {
      this.#events.unreadable?.(`serviceaccount ${namespace}/${name}`, statusOf(error));
      return {};
    }
  }

  async #secret(namespace: string, name: string): Promise<Entry> {
    let data: Record<string, string>;
    try {
      data = (await this.#core.readSecret({ namespace, name })).data ?? {};
    } catch (error) {
      const status = statusOf(error);
      this.#events.unreadable?.(`secret ${namespace}/${name}`, status);
      return { failed: status ?? null };
    }
    const source = `secret ${namespace}/${name}`;
    try {
      if (data['.dockerconfigjson'] !== undefined) {
        return { config: parseDockerConfigJson(Buffer.from(data['.dockerconfigjson'], 'base64'), source) };
      }
      if (data['.dockercfg'] !== undefined) {
        // The legacy format is the `auths` map alone.
        const auths = JSON.parse(Buffer.from(data['.dockercfg'], 'base64').toString('utf8')) as unknown;
        return { config: parseDockerConfigJson(JSON.stringify({ auths }), source) };
      }
      return {};
    } catch {
      // Present but not a docker config: skipped like a missing one (its content is never shown).
      this.#events.unreadable?.(source, undefined);
      return {};
    }
  }
}
