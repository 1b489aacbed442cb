// Kubelet credential provider plugins (credentialprovider.kubelet.k8s.io), exec'd exactly as the
// kubelet does (pkg/credentialprovider/plugin/plugin.go): for an image that one of a provider's
// `matchImages` matches, the plugin runs with the config's args, the process environment plus the
// config's env, and `{"apiVersion","kind":"CredentialProviderRequest","image"}` on stdin, and must answer
// a CredentialProviderResponse of the same apiVersion on stdout within 1 minute. Its answer is kept by
// `cacheKeyType` (Image: this repository; Registry: its host; Global: everything) for `cacheDuration`
// (absent: the provider's defaultCacheDuration; 0: not kept), looked up image, then registry, then
// global. Its `auth` keys are matched against the image by the same rules, every provider's entries
// together, in the kubelet's order (keys sorted in reverse, so `reg.io/team` comes before `reg.io`).
// One difference: when a registry refuses what a cached answer gave, the plugin is asked again.
import { SigwardError } from '../errors.ts';
import type { ExchangedCredential, Keychain, ObtainedCredential } from '../oci/auth.ts';
import { ExpiringAnswers } from '../oci/expiring-answers.ts';
import { DOCKER_HUB } from '../oci/reference.ts';
import { compileImagePattern, urlsMatch, type ImagePattern } from './image-match.ts';
import type { CredentialProvider } from './provider-config.ts';
import { parseGoDuration } from './provider-config.ts';
import { describeOutcome, runProgram, safeExcerpt } from './run-program.ts';

export interface CredentialProviderPluginsOptions {
  /** The environment plugins inherit (then the config's env on top). Default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Bound on one plugin run. Default 1 min, the kubelet's. */
  readonly timeoutMs?: number;
  /** Largest answer read. Default 1 MiB. */
  readonly maxOutputBytes?: number;
  /** Answers kept per provider. Default 1000. */
  readonly maxCachedAnswers?: number;
  readonly now?: () => number;
}

type CacheKeyType = 'Image' | 'Registry' | 'Global';
type ResolvedOptions = Required<CredentialProviderPluginsOptions>;

/** One plugin answer: auth entries by their (normalised) key. Holds secrets: never logged. */
interface Answer {
  readonly auth: ReadonlyMap<string, { readonly username: string; readonly password: string }>;
}

const globalKey = 'global';

/** The image string the kubelet hands plugins: the normalised repository, `docker.io/library/x` for Hub. */
export function kubeletImage(registry: string, repository: string): string {
  return `${registry === DOCKER_HUB ? 'docker.io' : registry}/${repository}`;
}

/** The registry part of an image string (the kubelet's parseRegistry: up to the first `/`). */
function registryOf(image: string): string {
  return image.split('/')[0] ?? image;
}

/** An auth key as the kubelet's keyring stores it: no scheme, `/v1/` or `/v2/` dropped, no bare `/`. */
function keyringKey(key: string): string {
  const rest = key.replace(/^https?:\/\//, '');
  const slash = rest.indexOf('/');
  if (slash === -1) return rest;
  let path = rest.slice(slash);
  if (path.startsWith('/v2/') || path.startsWith('/v1/')) path = path.slice(3);
  return path === '' || path === '/' ? rest.slice(0, slash) : rest.slice(0, slash) + path;
}

/** Where an answer for the image is kept, by its cacheKeyType. */
function cacheKey(type: CacheKeyType, image: string): string {
  return type === 'Image' ? image : type === 'Registry' ? registryOf(image) : globalKey;
}

class PluginProvider {
  readonly provider: CredentialProvider;
  readonly #options: ResolvedOptions;
  readonly #answers: ExpiringAnswers<Answer>;
  /** `matchImages`, parsed once at config load (a registry's 401 only runs the matchers). */
  readonly #matchImages: readonly ImagePattern[];
  /** The cacheKeyType of the provider's last answer: which images one run serves (Image until known). */
  #keyType: CacheKeyType = 'Image';

  constructor(provider: CredentialProvider, options: ResolvedOptions) {
    this.provider = provider;
    this.#options = options;
    this.#answers = new ExpiringAnswers({ maxEntries: options.maxCachedAnswers, now: options.now });
    this.#matchImages = provider.matchImages.map(compileImagePattern);
  }

  matches(image: string): boolean {
    return this.#matchImages.some((matches) => matches(image));
  }

  /**
   * The provider's answer for an image: cached, or one plugin run shared by every image its answer
   * would be kept for (its last cacheKeyType: one per image, per registry, or one for all).
   */
  async provide(image: string, refresh: boolean): Promise<Answer> {
    const keys = [image, registryOf(image), globalKey];
    if (refresh) for (const key of keys) this.#answers.forget(key);
    else
      for (const key of keys) {
        const hit = this.#answers.kept(key);
        if (hit !== undefined) return hit;
      }
    return this.#answers.shared(cacheKey(this.#keyType, image), () => this.#exec(image));
  }

  #fail(image: string, why: string): SigwardError {
    return new SigwardError(
      'REGISTRY_UNAUTHORIZED',
      `credential provider plugin ${this.provider.name} gave no credentials for ${image}: ${why}`,
      { details: { provider: this.provider.name, image } },
    );
  }

  async #exec(image: string): Promise<Answer> {
    const { provider } = this;
    const outcome = await runProgram({
      command: provider.path,
      args: provider.args,
      stdin: JSON.stringify({ kind: 'CredentialProviderRequest', apiVersion: provider.apiVersion, image }),
      env: { ...this.#options.env, ...provider.env },
      timeoutMs: this.#options.timeoutMs,
      maxOutputBytes: this.#options.maxOutputBytes,
    });
    if (outcome.kind !== 'exited') throw this.#fail(image, describeOutcome(outcome, this.#options.timeoutMs));
    if (outcome.code !== 0) {
      // The kubelet shows stderr; stdout may hold a half-written answer, so it is never quoted.
      const said = safeExcerpt(outcome.stderr);
      throw this.#fail(image, `exit status ${outcome.code}${said === '' ? '' : `: ${said}`}`);
    }
    const { answer, cacheKeyType, cacheDurationMs } = this.#parse(image, outcome.stdout.toString('utf8'));
    this.#keyType = cacheKeyType;
    // cacheDuration 0: not kept; absent: the provider's default (0: not kept either).
    const keepMs = cacheDurationMs ?? provider.defaultCacheDurationMs;
    if (keepMs !== 0) {
      const key = cacheKey(cacheKeyType, image);
      // The kubelet keeps an answer while now is not after its expiry: on this millisecond clock, until
      // one millisecond after it.
      this.#answers.keep(key, answer, this.#answers.now() + keepMs + 1);
    }
    return answer;
  }

  /** Reads a CredentialProviderResponse strictly, as the kubelet's decoder does; never quotes it. */
  #parse(
    image: string,
    text: string,
  ): { answer: Answer; cacheKeyType: CacheKeyType; cacheDurationMs?: number } {
    const fail = (why: string): SigwardError => this.#fail(image, why);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw fail('its answer is not JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw fail('its answer is not a JSON object');
    const r = body as Record<string, unknown>;
    if (r['apiVersion'] !== this.provider.apiVersion) {
      const found = typeof r['apiVersion'] === 'string' ? safeExcerpt(r['apiVersion']) : 'none';
      throw fail(`its answer's apiVersion ${found} is not the expected ${this.provider.apiVersion}`);
    }
    if (r['kind'] !== 'CredentialProviderResponse')
      throw fail('its answer is not a CredentialProviderResponse');
    for (const key of Object.keys(r)) {
      if (!['apiVersion', 'kind', 'cacheKeyType', 'cacheDuration', 'auth'].includes(key)) {
        throw fail(`its answer has the unknown field "${safeExcerpt(key)}"`);
      }
    }
    const cacheKeyType = r['cacheKeyType'];
    if (cacheKeyType !== 'Image' && cacheKeyType !== 'Registry' && cacheKeyType !== 'Global') {
      throw fail('its answer has no valid cacheKeyType (Image, Registry or Global)');
    }
    let cacheDurationMs: number | undefined;
    if (r['cacheDuration'] !== undefined && r['cacheDuration'] !== null) {
      cacheDurationMs =
        typeof r['cacheDuration'] === 'string' ? parseGoDuration(r['cacheDuration']) : undefined;
      if (cacheDurationMs === undefined) throw fail('its answer has an invalid cacheDuration');
    }
    const auth = new Map<string, { username: string; password: string }>();
    const rawAuth = r['auth'] ?? {};
    if (typeof rawAuth !== 'object' || rawAuth === null || Array.isArray(rawAuth)) {
      throw fail("its answer's auth must be an object");
    }
    for (const [key, value] of Object.entries(rawAuth as Record<string, unknown>)) {
      const entry = value as Record<string, unknown> | null;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw fail('an auth entry of its answer is not an object');
      }
      for (const field of Object.keys(entry)) {
        if (field !== 'username' && field !== 'password')
          throw fail('an auth entry of its answer has an unknown field');
      }
      const username = entry['username'] ?? '';
      const password = entry['password'] ?? '';
      if (typeof username !== 'string' || typeof password !== 'string') {
        throw fail('an auth entry of its answer has a non-string username or password');
      }
      auth.set(keyringKey(key), { username, password });
    }
    return { answer: { auth }, cacheKeyType, ...(cacheDurationMs === undefined ? {} : { cacheDurationMs }) };
  }
}

/**
 * The plugins of a CredentialProviderConfig as a Keychain: for an image some provider matches, one
 * lazy credential that runs (or reuses) every matching provider when the registry asks, and yields
 * the matching auth entries of all of them in the kubelet's order. A failing provider contributes
 * nothing (as in the kubelet); when all fail, the error names each.
 */
export class CredentialProviderPlugins {
  readonly #providers: readonly PluginProvider[];

  constructor(providers: readonly CredentialProvider[], options: CredentialProviderPluginsOptions = {}) {
    const resolved: ResolvedOptions = {
      env: options.env ?? process.env,
      timeoutMs: options.timeoutMs ?? 60_000,
      maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
      maxCachedAnswers: options.maxCachedAnswers ?? 1000,
      now: options.now ?? Date.now,
    };
    this.#providers = providers.map((p) => new PluginProvider(p, resolved));
  }

  keychain(): Keychain {
    return {
      credentialsFor: (registry, repository) => {
        const image = kubeletImage(registry.toLowerCase(), repository);
        const matching = this.#providers.filter((p) => p.matches(image));
        return matching.length === 0 ? [] : [this.#credential(image, matching)];
      },
    };
  }

  #credential(image: string, providers: readonly PluginProvider[]): ExchangedCredential {
    return {
      kind: 'exchange',
      id: `credential-providers:${providers.map((p) => p.provider.name).join(',')}:${image}`,
      obtain: ({ refresh }) => this.credentialsFor(image, providers, refresh),
    };
  }

  /** Every matching provider's answer, merged into one keyring as the kubelet does, looked up for the image. */
  async credentialsFor(
    image: string,
    providers: readonly PluginProvider[],
    refresh: boolean,
  ): Promise<readonly ObtainedCredential[]> {
    const settled = await Promise.allSettled(providers.map((p) => p.provide(image, refresh)));
    const failures: SigwardError[] = [];
    const byKey = new Map<string, { username: string; password: string }[]>();
    for (const result of settled) {
      if (result.status === 'rejected') {
        if (!(result.reason instanceof SigwardError)) throw result.reason;
        failures.push(result.reason);
        continue;
      }
      for (const [key, credential] of result.value.auth) {
        byKey.set(key, [...(byKey.get(key) ?? []), credential]);
      }
    }
    const found: ObtainedCredential[] = [];
    for (const key of [...byKey.keys()].sort().reverse()) {
      if (!urlsMatch(key, image)) continue;
      for (const { username, password } of byKey.get(key) ?? []) {
        found.push({ credential: { kind: 'basic', username, password } });
      }
    }
    if (found.length === 0 && failures.length > 0) {
      const [first] = failures;
      if (failures.length === 1 && first !== undefined) throw first;
      throw new SigwardError('REGISTRY_UNAUTHORIZED', failures.map((f) => f.message).join('; '), {
        details: { image },
      });
    }
    return found;
  }
}
