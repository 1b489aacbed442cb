// Decides every image site of one admission under ONE deadline. Per site: parse, match policies,
// resolve tag → digest with the workload's credentials (cached briefly), then per matched policy look
// the verdict up in the cache or verify (one verification per key at a time), and evaluate. Sites run
// in parallel with bounded concurrency; when the deadline passes first, the site's policies get
// DEADLINE_EXCEEDED (reason TIMEOUT) and the configured failure outcome decides, never an
// accidental allow. A verification that outlives the deadline keeps running to fill the cache, under
// its own cap, so a retry of the same workload is fast.
import { SigwardError, describeError } from '../errors.ts';
import { parseReference, repositoryString } from '../oci/index.ts';
import type { ImageReference, Keychain } from '../oci/index.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { ImageDecision } from '../policy/decision.ts';
import { evaluateImage } from '../policy/evaluate.ts';
import type { EvaluationSettings, ImageEvaluation } from '../policy/evaluate.ts';
import { policiesFor } from '../policy/match.ts';
import { KeyedLimiter, mapLimit } from './limit.ts';
import type {
  CredentialsSource,
  EngineObserver,
  ImageResolver,
  PolicySnapshotView,
  PublicKeySource,
  SignatureVerifier,
  TrustRootSource,
  WorkloadIdentity,
} from './ports.ts';
import { PolicyVerifier } from './verify-policy.ts';
import { DEFAULT_CACHE_SETTINGS, SingleFlightCache } from './verdict-cache.ts';
import type { CacheSettings } from './verdict-cache.ts';

export const DEADLINE_EXCEEDED = 'DEADLINE_EXCEEDED';

export interface DeciderDeps {
  readonly resolver: ImageResolver;
  readonly verifier: SignatureVerifier;
  readonly trustRoots: TrustRootSource;
  readonly credentials?: CredentialsSource;
  readonly keys?: PublicKeySource;
  readonly observer?: EngineObserver;
}

export interface DeciderSettings {
  /** The whole review's budget; set strictly below the webhook's timeoutSeconds. */
  readonly deadlineMs: number;
  /** Image sites examined at once. Default 8. */
  readonly concurrency?: number;
  /** Verifications (and tag resolutions) running at once against one registry. Default 16. */
  readonly perRegistryConcurrency?: number;
  /** Cap on a verification that outlives the review that started it. Default 25 s. */
  readonly verificationCapMs?: number;
  readonly evaluation: EvaluationSettings;
  readonly cache?: CacheSettings;
  /** Namespace of sigward itself: where ClusterImagePolicy key Secrets and pull secrets live. */
  readonly ownNamespace?: string;
}

export interface SiteInput {
  readonly field: string;
  readonly image: string;
}

export interface SiteDecision extends ImageDecision {
  /** The image as it would be pinned (`repo:tag@digest`), when the digest was resolved from a tag. */
  readonly pinned?: string;
}

export class Decider {
  readonly #deps: DeciderDeps;
  readonly #settings: DeciderSettings;
  readonly #policies: PolicyVerifier;
  readonly #digests: SingleFlightCache<{ digest: string }>;
  readonly #cache: Required<CacheSettings>;
  readonly #registries: KeyedLimiter;

  constructor(deps: DeciderDeps, settings: DeciderSettings) {
    this.#deps = deps;
    this.#settings = settings;
    this.#cache = { ...DEFAULT_CACHE_SETTINGS, ...settings.cache };
    this.#registries = new KeyedLimiter(settings.perRegistryConcurrency ?? 16);
    const observer = deps.observer?.cacheLookup
      ? { lookup: deps.observer.cacheLookup.bind(deps.observer) }
      : undefined;
    this.#policies = new PolicyVerifier(
      deps,
      {
        cache: this.#cache,
        verificationCapMs: settings.verificationCapMs ?? 25_000,
        ...(settings.ownNamespace === undefined ? {} : { ownNamespace: settings.ownNamespace }),
      },
      new SingleFlightCache('verdict', this.#cache.maxVerdicts, observer),
      this.#registries,
    );
    this.#digests = new SingleFlightCache('digest', this.#cache.maxDigests, observer);
  }

  get settings(): DeciderSettings {
    return this.#settings;
  }

  /** Decides every site under one deadline (`signal` may end it earlier, e.g. a closed connection). */
  async decide(
    sites: readonly SiteInput[],
    workload: WorkloadIdentity,
    snapshot: PolicySnapshotView,
    signal?: AbortSignal,
  ): Promise<SiteDecision[]> {
    const deadline = AbortSignal.timeout(this.#settings.deadlineMs);
    const stop = signal === undefined ? deadline : AbortSignal.any([deadline, signal]);
    let keychain: Promise<Keychain> | undefined;
    const keychainOnce = (): Promise<Keychain> =>
      (keychain ??=
        this.#deps.credentials?.keychainFor(workload) ?? Promise.resolve({ credentialsFor: () => [] }));
    return mapLimit(sites, this.#settings.concurrency ?? 8, (site) =>
      this.#decideSite(site, workload, snapshot, keychainOnce, stop),
    );
  }

  async #decideSite(
    site: SiteInput,
    workload: WorkloadIdentity,
    snapshot: PolicySnapshotView,
    keychain: () => Promise<Keychain>,
    stop: AbortSignal,
  ): Promise<SiteDecision> {
    let reference: ImageReference;
    try {
      reference = parseReference(site.image);
    } catch (error) {
      const code = error instanceof SigwardError ? error.code : 'REFERENCE_INVALID';
      return this.#evaluate({ ...site, policies: [], failure: { code, message: describeError(error) } });
    }
    const matched = policiesFor(snapshot.policies, reference, workload.namespace);
    if (matched.length === 0) return this.#evaluate({ ...site, policies: [] });
    const timedOut = (): SiteDecision =>
      this.#evaluate({
        ...site,
        policies: matched.map((policy) => ({ policy })),
        failure: {
          code: DEADLINE_EXCEEDED,
          message: `no verdict within the review deadline of ${this.#settings.deadlineMs} ms (registry or signature lookup too slow)`,
        },
      });
    if (stop.aborted) return timedOut();
    const work = this.#examine(site, reference, matched, workload, snapshot, keychain);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<'aborted'>((resolve) => {
      onAbort = () => resolve('aborted');
      stop.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const result = await Promise.race([work, aborted]);
      return result === 'aborted' ? timedOut() : result;
    } finally {
      if (onAbort) stop.removeEventListener('abort', onAbort);
      work.catch(() => undefined);
    }
  }

  async #examine(
    site: SiteInput,
    reference: ImageReference,
    matched: readonly CompiledPolicy[],
    workload: WorkloadIdentity,
    snapshot: PolicySnapshotView,
    keychain: () => Promise<Keychain>,
  ): Promise<SiteDecision> {
    let digest: string;
    const chain = await keychain();
    try {
      digest = reference.digest ?? (await this.#resolve(reference, workload.namespace, chain));
    } catch (error) {
      const code = error instanceof SigwardError ? error.code : 'INTERNAL_ERROR';
      return this.#evaluate({
        ...site,
        policies: matched.map((policy) => ({ policy })),
        failure: { code, message: `could not resolve the tag to a digest: ${describeError(error)}` },
      });
    }
    // `multiArch: index` finds the index through the tag of `repo:tag@digest` (resolved once, cached).
    let tagged: Promise<string> | undefined;
    const resolveTag = (): Promise<string> =>
      (tagged ??= this.#resolve({ ...reference, digest: undefined }, workload.namespace, chain));
    const policies = await Promise.all(
      matched.map((policy) =>
        this.#policies.evaluate(policy, reference, digest, snapshot, chain, resolveTag),
      ),
    );
    const decision = this.#evaluate({ ...site, digest, policies });
    const pinned = reference.digest === undefined ? `${site.image}@${digest}` : undefined;
    return pinned === undefined ? decision : { ...decision, pinned };
  }

  #resolve(reference: ImageReference, namespace: string, keychain: Keychain): Promise<string> {
    const key = `${namespace}|${repositoryString(reference)}:${reference.tag ?? 'latest'}`;
    return this.#digests
      .get(
        key,
        async () => ({
          digest: await this.#registries.run(reference.registry, () =>
            this.#deps.resolver.resolveDigest(
              reference,
              keychain,
              AbortSignal.timeout(this.#settings.verificationCapMs ?? 25_000),
            ),
          ),
        }),
        () => this.#cache.digestTtlMs,
      )
      .then((r) => r.digest);
  }

  #evaluate(input: ImageEvaluation): SiteDecision {
    return evaluateImage(input, this.#settings.evaluation);
  }
}
