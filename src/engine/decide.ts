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
import type { CompiledAuthority, CompiledPolicy } from '../policy/compile.ts';
import { ERROR_REASONS } from '../policy/decision.ts';
import type { ImageDecision } from '../policy/decision.ts';
import { authorityOutcomes, evaluateImage, reasonFor } from '../policy/evaluate.ts';
import type {
  AuthorityOutcome,
  EvaluationSettings,
  ImageEvaluation,
  PolicyEvaluation,
} from '../policy/evaluate.ts';
import { policiesFor } from '../policy/match.ts';
import type { Authority, ImageVerdict, MultiArch } from '../sigstore/verify-image.ts';
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
  /** Namespace of sigward itself: where ClusterImagePolicy key secrets live. */
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

type Failure = { readonly code: string; readonly message: string };

export class Decider {
  readonly #deps: DeciderDeps;
  readonly #settings: DeciderSettings;
  readonly #verdicts: SingleFlightCache<ImageVerdict>;
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
    this.#verdicts = new SingleFlightCache('verdict', this.#cache.maxVerdicts, observer);
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
    const work = this.#examine(site, reference, matched, workload, snapshot, keychain, stop);
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
    _stop: AbortSignal,
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
    const policies = await Promise.all(
      matched.map((policy) => this.#policy(policy, reference, digest, workload, snapshot, chain)),
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

  async #policy(
    policy: CompiledPolicy,
    reference: ImageReference,
    digest: string,
    workload: WorkloadIdentity,
    snapshot: PolicySnapshotView,
    keychain: Keychain,
  ): Promise<PolicyEvaluation> {
    if (!policy.valid) return { policy };
    // Authorities sharing a trust root are verified together (one discovery per root).
    const groups = new Map<string, CompiledAuthority[]>();
    for (const a of policy.authorities)
      groups.set(a.trustRootRef, [...(groups.get(a.trustRootRef) ?? []), a]);
    const outcomes: AuthorityOutcome[] = [];
    for (const [rootName, authorities] of groups) {
      const trust = this.#deps.trustRoots.trustRoot(rootName);
      const names = authorities.map((a) => a.name);
      if (trust === undefined) {
        const why = snapshot.trustRoots.has(rootName) ? 'is not loaded yet' : 'does not exist';
        for (const authority of names)
          outcomes.push({
            authority,
            verified: false,
            code: 'TRUST_ROOT_UNAVAILABLE',
            message: `the TrustRoot ${rootName} ${why}`,
          });
        continue;
      }
      let converted: Authority[];
      try {
        converted = await Promise.all(authorities.map((a) => this.#authority(a, policy, workload)));
      } catch (error) {
        const code = error instanceof SigwardError ? error.code : 'POLICY_KEY_UNAVAILABLE';
        for (const authority of names)
          outcomes.push({ authority, verified: false, code, message: describeError(error) });
        continue;
      }
      const key = [
        repositoryString(reference),
        digest,
        policy.kind,
        policy.namespace ?? '',
        policy.name,
        snapshot.generation,
        rootName,
        trust.version,
      ].join('|');
      const verdict = await this.#verdicts.get(
        key,
        () => this.#verify(policy, reference, digest, converted, trust, keychain, names),
        (v) => this.#ttl(v),
      );
      outcomes.push(...authorityOutcomes(verdict, names));
    }
    return { policy, outcomes };
  }

  async #verify(
    policy: CompiledPolicy,
    reference: ImageReference,
    digest: string,
    authorities: readonly Authority[],
    trust: NonNullable<ReturnType<TrustRootSource['trustRoot']>>,
    keychain: Keychain,
    names: readonly string[],
  ): Promise<ImageVerdict> {
    const repository = { registry: reference.registry, repository: reference.repository };
    let verdict: ImageVerdict;
    try {
      verdict = await this.#registries.run(reference.registry, () =>
        this.#deps.verifier.verify({
          image: { repository, digest },
          authorities,
          trust,
          multiArch: multiArchOf(policy),
          ...(policy.signatureRepository === undefined
            ? {}
            : { signatureRepository: policy.signatureRepository.repository }),
          keychain,
          signal: AbortSignal.timeout(this.#settings.verificationCapMs ?? 25_000),
        }),
      );
    } catch (error) {
      // A bug or an unexpected failure: an error verdict (never cached, never an allow).
      verdict = {
        image: `${repositoryString(repository)}@${digest}`,
        digest,
        status: 'error',
        code: error instanceof SigwardError ? error.code : 'INTERNAL_ERROR',
        message: describeError(error),
        signatures: [],
      };
    }
    for (const o of authorityOutcomes(verdict, names)) {
      this.#deps.observer?.verification?.({
        policy: policy.displayName,
        authority: o.authority,
        result: o.verified ? 'verified' : verdict.status === 'error' ? 'error' : 'refused',
        reason: reasonFor(o.code),
      });
    }
    return verdict;
  }

  #ttl(verdict: ImageVerdict): number | undefined {
    if (verdict.status === 'verified') return this.#cache.positiveTtlMs;
    if (verdict.status === 'error') return undefined;
    // A refusal caused by an error category (trust root, internal) is not definite either.
    if (ERROR_REASONS.has(reasonFor(verdict.code))) return undefined;
    return this.#cache.negativeTtlMs;
  }

  async #authority(
    a: CompiledAuthority,
    policy: CompiledPolicy,
    workload: WorkloadIdentity,
  ): Promise<Authority> {
    if (a.kind === 'keyless') {
      return {
        kind: 'keyless',
        name: a.name,
        match: a.match,
        requireTlog: a.requireTlog,
        requireSct: a.requireSct,
      };
    }
    if (a.key.source === 'data')
      return { kind: 'key', name: a.name, publicKey: a.key.publicKey, requireTlog: a.requireTlog };
    if (this.#deps.keys === undefined)
      throw new SigwardError(
        'POLICY_KEY_UNAVAILABLE',
        `authority ${a.name}: keys in Secrets need a cluster connection`,
      );
    const namespace =
      a.key.namespace ?? policy.namespace ?? this.#settings.ownNamespace ?? workload.namespace;
    const publicKey = await this.#deps.keys.publicKey({ namespace, name: a.key.name, key: a.key.key });
    return { kind: 'key', name: a.name, publicKey, requireTlog: a.requireTlog };
  }

  #evaluate(input: ImageEvaluation): SiteDecision {
    return evaluateImage(input, this.#settings.evaluation);
  }
}

function multiArchOf(policy: CompiledPolicy): MultiArch {
  // The admitted digest is what the kubelet pulls (often an index): `index` counts a signature on it,
  // which is the `digest` rule here; `all-platforms` requires every platform manifest to be signed.
  return policy.multiArch === 'all-platforms' ? { mode: 'every-platform' } : { mode: 'digest' };
}

export type { Failure };
