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
import type { EvaluationSettings, ImageEvaluation, PolicyEvaluation } from '../policy/evaluate.ts';
import { matchingPolicies } from '../policy/match.ts';
import { Deadline } from '../deadline.ts';
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
import type { CacheLookups } from './verify-policy.ts';
import { DEFAULT_CACHE_SETTINGS, SingleFlightCache } from './verdict-cache.ts';
import type { CacheSettings } from './verdict-cache.ts';

export const DEADLINE_EXCEEDED = 'DEADLINE_EXCEEDED';

/** Image strings whose parse is remembered before the memory starts over. */
const PARSED_REFERENCES = 4096;
/** Images whose last cached decision is remembered before that memory starts over (a few hundred KB). */
const REMEMBERED_DECISIONS = 1024;
const NO_POLICIES: readonly PolicyEvaluation[] = Object.freeze([]);

/** A decision made from the caches and what it was made from. */
interface RememberedDecision {
  readonly field: string;
  readonly digest: string | undefined;
  readonly policies: readonly PolicyEvaluation[];
  readonly decision: SiteDecision;
}

/**
 * Whether two lists of evaluations say the same: the same policy objects (a new snapshot compiles new
 * ones), the same failure and outcomes, field by field (every field, so one added later counts too).
 * An outcome's signer is the cached verdict's own object, never changed: compared as the same object.
 */
function sameEvaluations(a: readonly PolicyEvaluation[], b: readonly PolicyEvaluation[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as unknown as Readonly<Record<string, unknown>>;
    const y = b[i] as unknown as Readonly<Record<string, unknown>>;
    for (const key in x) {
      const u = x[key];
      const v = y[key];
      if (u === v) continue;
      if (key === 'outcomes' && Array.isArray(u) && Array.isArray(v) && u.length === v.length) {
        for (let j = 0; j < u.length; j++) if (!sameFields(u[j] as Fields, v[j] as Fields)) return false;
      } else if (key !== 'failure' || !sameFields(u as Fields, v as Fields)) return false;
    }
    if (fieldCount(x) !== fieldCount(y)) return false;
  }
  return true;
}

type Fields = Readonly<Record<string, unknown>> | undefined;

/** Two plain objects with the same fields holding the same values (=== each). */
function sameFields(a: Fields, b: Fields): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  for (const key in a) if (a[key] !== b[key]) return false;
  return fieldCount(a) === fieldCount(b);
}

function fieldCount(o: Fields): number {
  let n = 0;
  for (const _key in o) n++;
  return n;
}

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
  readonly #references = new Map<string, ImageReference>();
  /** The last decision the caches gave per image string (`#again`). */
  readonly #lastDecisions = new Map<string, RememberedDecision>();
  readonly #scratchEvaluations: PolicyEvaluation[] = [];
  readonly #scratchLookups: CacheLookups = { count: 0, attestations: 0 };

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

  /**
   * Decides every site under one deadline (`signal` may end it earlier, e.g. a closed connection).
   * When the caches hold every site's answer, the decisions come back at once, not as a promise: no
   * deadline timer, promise chain or await on the cache-hit path. Otherwise only the sites the caches
   * could not answer wait for the registry, under the deadline counted from the start of this call.
   */
  decide(
    sites: readonly SiteInput[],
    workload: WorkloadIdentity,
    snapshot: PolicySnapshotView,
    signal?: AbortSignal,
  ): SiteDecision[] | Promise<SiteDecision[]> {
    const started = performance.now();
    const decisions: (SiteDecision | undefined)[] = [];
    let pending: number[] | undefined;
    for (let i = 0; i < sites.length; i++) {
      const decision = this.#fromCache(sites[i]!, workload, snapshot);
      decisions.push(decision);
      if (decision === undefined) (pending ??= []).push(i);
    }
    if (pending === undefined) return decisions as SiteDecision[];
    return this.#decidePending(sites, pending, decisions, workload, snapshot, started, signal);
  }

  async #decidePending(
    sites: readonly SiteInput[],
    pending: readonly number[],
    decisions: (SiteDecision | undefined)[],
    workload: WorkloadIdentity,
    snapshot: PolicySnapshotView,
    started: number,
    signal?: AbortSignal,
  ): Promise<SiteDecision[]> {
    const remaining = Math.max(0, Math.floor(this.#settings.deadlineMs - (performance.now() - started)));
    const deadline = new Deadline(remaining, signal);
    let keychain: Promise<Keychain> | undefined;
    const keychainOnce = (): Promise<Keychain> =>
      (keychain ??=
        this.#deps.credentials?.keychainFor(workload) ?? Promise.resolve({ credentialsFor: () => [] }));
    let decided: SiteDecision[];
    try {
      decided = await mapLimit(pending, this.#settings.concurrency ?? 8, (i) =>
        this.#decideSite(sites[i]!, workload, snapshot, keychainOnce, deadline.signal),
      );
    } finally {
      deadline.end();
    }
    pending.forEach((i, k) => (decisions[i] = decided[k]));
    return decisions as SiteDecision[];
  }

  /**
   * The site's decision from the caches alone (parsed reference, matched policies, tag → digest and
   * every verdict), or undefined when anything must be fetched, read or verified.
   */
  #fromCache(
    site: SiteInput,
    workload: WorkloadIdentity,
    snapshot: PolicySnapshotView,
  ): SiteDecision | undefined {
    const reference = this.#parse(site.image);
    if (reference === undefined) return undefined;
    const matched = matchingPolicies(snapshot.policies, reference, workload.namespace);
    if (matched.length === 0) return this.#again(site, reference, undefined, NO_POLICIES);
    const digest =
      reference.digest ?? this.#digests.peek(this.#digestKey(reference, workload.namespace))?.digest;
    if (digest === undefined) return undefined;
    // Scratch, reused: this runs to the end without awaiting, and #again copies what it keeps.
    const policies = this.#scratchEvaluations;
    policies.length = 0;
    const lookups = this.#scratchLookups;
    lookups.count = 0;
    lookups.attestations = 0;
    for (const policy of matched) {
      const evaluation = this.#policies.cached(policy, reference, digest, snapshot, lookups);
      if (evaluation === undefined) return undefined;
      policies.push(evaluation);
    }
    // Counted only now: a site that falls back to the slow path is counted there, once.
    if (reference.digest === undefined) this.#digests.recordHits(1);
    this.#policies.recordHits(lookups.count, lookups.attestations);
    return this.#again(site, reference, digest, policies);
  }

  /**
   * The decision for what the caches said, handed out again when the last one for this image was made
   * from the same inputs (field, digest, and evaluations with the same policies and outcomes):
   * evaluation is pure, so it would come out the same, and a cached review need not build it (~1 KB
   * of results and messages per image). Decisions are never changed once made.
   */
  #again(
    site: SiteInput,
    reference: ImageReference,
    digest: string | undefined,
    policies: readonly PolicyEvaluation[],
  ): SiteDecision {
    const last = this.#lastDecisions.get(site.image);
    if (
      last !== undefined &&
      last.field === site.field &&
      last.digest === digest &&
      sameEvaluations(last.policies, policies)
    )
      return last.decision;
    const kept = policies.slice();
    const decision =
      digest === undefined
        ? this.#evaluate({ field: site.field, image: site.image, policies: kept })
        : this.#decided(site, reference, digest, kept);
    if (this.#lastDecisions.size >= REMEMBERED_DECISIONS) this.#lastDecisions.clear();
    this.#lastDecisions.set(site.image, { field: site.field, digest, policies: kept, decision });
    return decision;
  }

  /** parseReference, remembered (bounded): the same few image strings arrive over and over. */
  #parse(image: string): ImageReference | undefined {
    let reference = this.#references.get(image);
    if (reference === undefined) {
      try {
        reference = Object.freeze(parseReference(image));
      } catch {
        return undefined; // the slow path reports it
      }
      if (this.#references.size >= PARSED_REFERENCES) this.#references.clear();
      this.#references.set(image, reference);
    }
    return reference;
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
      reference = this.#parse(site.image) ?? parseReference(site.image);
    } catch (error) {
      const code = error instanceof SigwardError ? error.code : 'REFERENCE_INVALID';
      return this.#evaluate({ ...site, policies: [], failure: { code, message: describeError(error) } });
    }
    const matched = matchingPolicies(snapshot.policies, reference, workload.namespace);
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
    let chain: Keychain;
    try {
      chain = await keychain();
    } catch (error) {
      // The workload's pull credentials could not be read: this image cannot be looked at (fail closed).
      const code = error instanceof SigwardError ? error.code : 'CREDENTIALS_INVALID';
      return this.#evaluate({
        ...site,
        policies: matched.map((policy) => ({ policy })),
        failure: { code, message: `could not read the workload's pull credentials: ${describeError(error)}` },
      });
    }
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
    return this.#decided(site, reference, digest, policies);
  }

  #decided(
    site: SiteInput,
    reference: ImageReference,
    digest: string,
    policies: readonly PolicyEvaluation[],
  ): SiteDecision {
    const decision = this.#evaluate({ ...site, digest, policies });
    const pinned = reference.digest === undefined ? `${site.image}@${digest}` : undefined;
    return pinned === undefined ? decision : { ...decision, pinned };
  }

  #digestKey(reference: ImageReference, namespace: string): string {
    return `${namespace}|${repositoryString(reference)}:${reference.tag ?? 'latest'}`;
  }

  #resolve(reference: ImageReference, namespace: string, keychain: Keychain): Promise<string> {
    const key = this.#digestKey(reference, namespace);
    return this.#digests
      .get(
        key,
        async () => {
          const cap = new Deadline(this.#settings.verificationCapMs ?? 25_000);
          try {
            return {
              digest: await this.#registries.run(reference.registry, () =>
                this.#deps.resolver.resolveDigest(reference, keychain, cap.signal),
              ),
            };
          } finally {
            cap.end();
          }
        },
        () => this.#cache.digestTtlMs,
      )
      .then((r) => r.digest);
  }

  #evaluate(input: ImageEvaluation): SiteDecision {
    return evaluateImage(input, this.#settings.evaluation);
  }
}
