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
import type { CacheLookups, CacheRead } from './verify-policy.ts';
import { sameItems } from './same-items.ts';
import { DEFAULT_CACHE_SETTINGS, SingleFlightCache } from './verdict-cache.ts';
import type { CacheSettings } from './verdict-cache.ts';

export const DEADLINE_EXCEEDED = 'DEADLINE_EXCEEDED';

/** Image strings remembered (parse, policies matched, last decision) before the memory starts over. */
const REMEMBERED_IMAGES = 4096;
/** Fields whose last image memory is kept (the fields of pod specs: a few per container list). */
const REMEMBERED_FIELDS = 1024;
/** Images whose last cached decisions (two fields each at most) are remembered before those are forgotten (a few hundred KB). */
const REMEMBERED_DECISIONS = 1024;
const NO_POLICIES: readonly PolicyEvaluation[] = Object.freeze([]);
const NO_READS: readonly CacheRead[] = Object.freeze([]);
const NO_MATCH: readonly CompiledPolicy[] = Object.freeze([]);
const NO_STARTS: readonly number[] = Object.freeze([]);

/**
 * What the engine keeps of one image string, so a cached review reads one map entry per image: its
 * parse, the policies it matched last (for which policy list and namespace), its tag's digest key
 * (for which namespace), and the last decision the caches gave for it.
 */
interface ImageMemory {
  readonly image: string;
  readonly reference: ImageReference;
  matchedIn: readonly CompiledPolicy[] | undefined;
  matchedFor: string;
  matched: readonly CompiledPolicy[];
  digestKeyFor: string | undefined;
  digestKey: string;
  last: RememberedDecision | undefined;
  /**
   * The decision before `last`, at another field: an image a pod names twice (an init container and
   * the main one) keeps one per field, instead of each site replacing the other's every review.
   */
  before: RememberedDecision | undefined;
}

/** A decision made from the caches and what it was made from. */
interface RememberedDecision {
  readonly field: string;
  readonly digest: string | undefined;
  readonly matched: readonly CompiledPolicy[];
  /** What the caches handed out for the matched policies (PolicyVerifier.lookUp), in order. */
  readonly reads: readonly CacheRead[];
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
  /** Per image string: its parse, match, digest key and last decision from the caches (`#again`). */
  readonly #images = new Map<string, ImageMemory>();
  /** Memories in #images holding a decision. */
  #decisionsHeld = 0;
  /**
   * The memory last used at each field (`spec.containers[0].image`): a workload's pods repeat their
   * images field for field, and a field's text is made once (admission/sites), so the image's memory
   * is found by comparing its text with the last one's instead of hashing it for #images.
   */
  readonly #lastAtField = new Map<string, ImageMemory>();
  readonly #scratchReads: CacheRead[] = [];
  readonly #scratchStarts: number[] = [];
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
    // Sized once: a review names a few images.
    const decisions = new Array<SiteDecision | undefined>(sites.length);
    let pending: number[] | undefined;
    for (let i = 0; i < sites.length; i++) {
      const decision = this.#fromCache(sites[i]!, workload, snapshot);
      decisions[i] = decision;
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
    const decideSite = (i: number): Promise<SiteDecision> =>
      this.#decideSite(sites[i]!, workload, snapshot, keychainOnce, deadline.signal);
    const concurrency = this.#settings.concurrency ?? 8;
    let decided: SiteDecision[];
    try {
      // Sites within the bound (a cold review names one or two new images) all start at once, as
      // mapLimit starts them, without its workers' frames, held through the registry's round trips.
      decided = await (pending.length <= concurrency
        ? Promise.all(pending.map(decideSite))
        : mapLimit(pending, concurrency, decideSite));
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
    const memory = this.#memoryAt(site);
    if (memory === undefined) return undefined;
    const { reference } = memory;
    const namespace = workload.namespace;
    const matched =
      memory.matchedIn === snapshot.policies && memory.matchedFor === namespace
        ? memory.matched
        : this.#match(memory, snapshot.policies, namespace);
    if (matched.length === 0) return this.#again(site, memory, undefined, matched, NO_READS, NO_STARTS);
    const digest = reference.digest ?? this.#digests.peek(this.#tagKey(memory, namespace))?.digest;
    if (digest === undefined) return undefined;
    // Scratch, reused: this runs to the end without awaiting, and #again copies what it keeps. Emptied
    // by pop (inlined) rather than `length = 0` (a call into the runtime).
    const reads = this.#scratchReads;
    while (reads.length > 0) reads.pop();
    const starts = this.#scratchStarts;
    while (starts.length > 0) starts.pop();
    const lookups = this.#scratchLookups;
    lookups.count = 0;
    lookups.attestations = 0;
    // Indexed: a match is a frozen array, which for…of walks through the iterator protocol.
    for (let i = 0; i < matched.length; i++) {
      starts.push(reads.length);
      if (!this.#policies.lookUp(matched[i]!, reference, digest, snapshot, lookups, reads)) return undefined;
    }
    // Counted only now: a site that falls back to the slow path is counted there, once.
    if (reference.digest === undefined) this.#digests.recordHits(1);
    this.#policies.recordHits(lookups.count, lookups.attestations);
    return this.#again(site, memory, digest, matched, reads, starts);
  }

  /**
   * The decision for what the caches said, handed out again when the last one for this image was made
   * from the same inputs (field, digest, policies, and the same cache entries read, or evaluations
   * that say the same): evaluation is pure, so it would come out the same, and a cached review need
   * not build it (~1 KB of results and messages per image). Decisions are never changed once made.
   */
  #again(
    site: SiteInput,
    memory: ImageMemory,
    digest: string | undefined,
    matched: readonly CompiledPolicy[],
    reads: readonly CacheRead[],
    starts: readonly number[],
  ): SiteDecision {
    const last = memory.last?.field === site.field ? memory.last : memory.before;
    const same = last !== undefined && last.field === site.field && last.digest === digest;
    // The same cache reads (by identity: a cached value is never changed) make the same decision.
    if (same && last.matched === matched && sameItems(last.reads, reads)) return last.decision;
    const { reference } = memory;
    const policies =
      matched.length === 0
        ? NO_POLICIES
        : matched.map((policy, i) => this.#policies.evaluationOf(policy, reference, reads, starts[i]!));
    let decision: SiteDecision;
    if (same && sameEvaluations(last.policies, policies)) decision = last.decision;
    else
      decision =
        digest === undefined
          ? this.#evaluate({ field: site.field, image: site.image, policies })
          : this.#decided(site, reference, digest, policies);
    if (memory.last === undefined && this.#decisionsHeld++ >= REMEMBERED_DECISIONS) this.#forgetDecisions();
    const remembered = { field: site.field, digest, matched, reads: reads.slice(), policies, decision };
    if (memory.before?.field === site.field) memory.before = remembered;
    else {
      if (memory.last !== undefined && memory.last.field !== site.field) memory.before = memory.last;
      memory.last = remembered;
    }
    return decision;
  }

  /** Drops every remembered decision (their images' parses stay): the bound on what they hold. */
  #forgetDecisions(): void {
    for (const memory of this.#images.values()) memory.last = memory.before = undefined;
    this.#decisionsHeld = 1;
  }

  /** The policies matching the image in `namespace`, remembered in its memory for that list. */
  #match(
    memory: ImageMemory,
    policies: readonly CompiledPolicy[],
    namespace: string,
  ): readonly CompiledPolicy[] {
    memory.matched = matchingPolicies(policies, memory.reference, namespace);
    memory.matchedIn = policies;
    memory.matchedFor = namespace;
    return memory.matched;
  }

  /** The tag's key in the digest cache for `namespace`, remembered in the image's memory. */
  #tagKey(memory: ImageMemory, namespace: string): string {
    if (memory.digestKeyFor !== namespace) {
      memory.digestKey = this.#digestKey(memory.reference, namespace);
      memory.digestKeyFor = namespace;
    }
    return memory.digestKey;
  }

  /** The site's image's memory: the one last used at its field when it is the same image, else #remember's. */
  #memoryAt(site: SiteInput): ImageMemory | undefined {
    const last = this.#lastAtField.get(site.field);
    if (last !== undefined && last.image === site.image) return last;
    const memory = this.#remember(site.image);
    if (memory !== undefined) {
      if (this.#lastAtField.size >= REMEMBERED_FIELDS) this.#lastAtField.clear();
      this.#lastAtField.set(site.field, memory);
    }
    return memory;
  }

  /** The image's memory (its parse made and remembered, bounded), or undefined when it does not parse. */
  #remember(image: string): ImageMemory | undefined {
    let memory = this.#images.get(image);
    if (memory === undefined) {
      let reference: ImageReference;
      try {
        reference = Object.freeze(parseReference(image));
      } catch {
        return undefined; // the slow path reports it
      }
      if (this.#images.size >= REMEMBERED_IMAGES) {
        // Every memory in use is in #images: the decisions' bound counts them there.
        this.#images.clear();
        this.#lastAtField.clear();
        this.#decisionsHeld = 0;
      }
      memory = {
        image,
        reference,
        matchedIn: undefined,
        matchedFor: '',
        matched: NO_MATCH,
        digestKeyFor: undefined,
        digestKey: '',
        last: undefined,
        before: undefined,
      };
      this.#images.set(image, memory);
    }
    return memory;
  }

  /** parseReference, remembered (bounded): the same few image strings arrive over and over. */
  #parse(image: string): ImageReference | undefined {
    return this.#remember(image)?.reference;
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
