// One matched policy for one image digest: its authorities (grouped by trust root) turned into
// sigstore authorities, its multiArch rule planned (multi-arch.ts), the verdict looked up in the cache
// keyed by (repository, digest, policy, policy generation, trust root and its version, the index
// relied on, the fingerprint of every key read from a Secret) or verified once for every concurrent
// asker, and the per-authority outcomes for policy/evaluate (one signature counts for every authority
// that accepts it). Only definite verdicts are cached, each with its TTL; registry errors, timeouts,
// trust-root trouble and unavailable keys or pull secrets never are. Key Secrets are read on every
// evaluation (kube/ keeps them only seconds), so a rotated key changes the cache key at once and a
// deleted one denies.
// Authorities with `attestations` are checked on the admitted digest's in-toto attestations instead
// (sigstore/verify-attestations, then policy/attestations runs the CEL conditions), side by side with
// the group's signature check over shared registry reads; their outcomes have a cache of their own,
// keyed per (same key, the attestation set), only briefly when a condition reads `now`, and are read
// on the synchronous cache-hit path like verdicts.
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SigwardError, describeError } from '../errors.ts';
import { combineKeychains, repositoryString } from '../oci/index.ts';
import type { ImageReference, Keychain, RepositoryName } from '../oci/index.ts';
import type { CompiledAuthority, CompiledPolicy } from '../policy/compile.ts';
import { ERROR_REASONS } from '../policy/decision.ts';
import { attestationOutcome } from '../policy/attestations.ts';
import { authorityOutcomes, reasonFor } from '../policy/evaluate.ts';
import type { AuthorityOutcome, PolicyEvaluation, VerdictLike } from '../policy/evaluate.ts';
import type { Authority, ImageVerdict, MultiArch } from '../sigstore/verify-image.ts';
import { SharedReads } from '../sigstore/shared-reads.ts';
import { SharedValues, compactVerdict } from './cached-verdict.ts';
import { Deadline } from '../deadline.ts';
import { SingleFlightCache } from './verdict-cache.ts';
import { VerdictKeys, VerdictScopeSlot } from './verdict-key.ts';
import type { KeyedLimiter } from './limit.ts';
import { planMultiArch, planWithoutLookup, withPlan } from './multi-arch.ts';
import type {
  CredentialsSource,
  EngineObserver,
  PolicySnapshotView,
  PublicKeySource,
  SignatureVerifier,
  TrustRootSource,
} from './ports.ts';
import type { CacheSettings } from './verdict-cache.ts';

export interface PolicyVerifierDeps {
  readonly verifier: SignatureVerifier;
  readonly trustRoots: TrustRootSource;
  readonly keys?: PublicKeySource;
  /** For a policy's signatureRepository.pullSecretRef. */
  readonly credentials?: CredentialsSource;
  readonly observer?: EngineObserver;
  /** The wall clock CEL conditions see as `now`. Default the system's. */
  readonly now?: () => Date;
}

/** What the attestation path caches: the outcomes (conditions already run), never the predicates. */
export interface AttestationEntry {
  readonly outcomes: readonly AuthorityOutcome[];
  /** Not definite (registry trouble, an error category): never cached. */
  readonly definite: boolean;
  readonly usesNow: boolean;
}

export interface PolicyVerifierSettings {
  readonly cache: Required<CacheSettings>;
  readonly verificationCapMs: number;
  readonly ownNamespace?: string;
}

export class PolicyVerifier {
  readonly #deps: PolicyVerifierDeps;
  readonly #settings: PolicyVerifierSettings;
  readonly #verdicts: SingleFlightCache<VerdictLike>;
  readonly #registries: KeyedLimiter;
  readonly #attested: SingleFlightCache<AttestationEntry>;
  /** What the caches store, one object per distinct content (cached-verdict.ts). */
  readonly #shared = new SharedValues();
  /** The keys the caches are read and filled under (verdict-key.ts). */
  readonly #keys = new VerdictKeys();

  constructor(
    deps: PolicyVerifierDeps,
    settings: PolicyVerifierSettings,
    verdicts: SingleFlightCache<VerdictLike>,
    registries: KeyedLimiter,
  ) {
    this.#deps = deps;
    this.#settings = settings;
    this.#verdicts = verdicts;
    this.#registries = registries;
    const lookup = deps.observer?.cacheLookup?.bind(deps.observer);
    this.#attested = new SingleFlightCache(
      'attestation',
      settings.cache.maxAttestations,
      lookup === undefined ? undefined : { lookup },
    );
  }

  async evaluate(
    policy: CompiledPolicy,
    reference: ImageReference,
    digest: string,
    snapshot: PolicySnapshotView,
    keychain: Keychain,
    /** The reference's tag resolved (without its digest): where `multiArch: index` finds the index. */
    resolveTag: () => Promise<string>,
  ): Promise<PolicyEvaluation> {
    if (!policy.valid) return { policy };
    // Most rules need no lookup: planned at once, without an await.
    const plan =
      planWithoutLookup(policy.multiArch, reference) ??
      (await planMultiArch(policy.multiArch, reference, digest, resolveTag));
    const outcomes: AuthorityOutcome[] = [];
    for (const group of trustRootGroups(policy)) {
      const { rootName, authorities, names: groupNames, signing, attesting } = group;
      const trust = this.#deps.trustRoots.trustRoot(rootName);
      if (trust === undefined) {
        outcomes.push(...unavailable(rootName, groupNames, snapshot.trustRoots.has(rootName)));
        continue;
      }
      let converted: readonly Authority[];
      try {
        // Keyless and inline keys convert the same every time: once per policy (trustRootGroups).
        converted = group.inline ?? (await Promise.all(authorities.map((a) => this.#authority(a, policy))));
      } catch (error) {
        const code = error instanceof SigwardError ? error.code : 'POLICY_KEY_UNAVAILABLE';
        for (const authority of authorities.map((a) => a.name))
          outcomes.push({ authority, verified: false, code, message: describeError(error) });
        continue;
      }
      // Signatures and attestations of one digest are checked side by side, sharing the policy's
      // credentials, one deadline and every registry read (one referrers listing, one fetch each).
      const run = this.#groupRun(policy, keychain, signing !== undefined && attesting !== undefined);
      const attested =
        attesting === undefined
          ? undefined
          : this.#attest(
              policy,
              reference,
              digest,
              snapshot,
              rootName,
              trust,
              attesting,
              attesting.indices.map((i) => converted[i]!),
              run,
            );
      let signed: Promise<VerdictLike> | undefined;
      const names = signing?.names ?? [];
      if (signing !== undefined) {
        const signers = signing.indices.map((i) => converted[i]!);
        // The key part: made once when every key is inline (the same fingerprints of the same keys).
        const keys =
          signing.inlineKeys ??
          signers.map((a) => (a.kind === 'key' ? keyFingerprint(a.publicKey) : '-')).join(',');
        const key = this.#keys.key(signing.scope.at(snapshot, trust, keys), reference, digest, plan.index);
        signed = this.#verdicts.get(
          key,
          async () => {
            const compact = compactVerdict(
              await this.#verify(policy, reference, digest, signers, trust, run, names, plan.multiArch),
            );
            return this.#ttl(compact) === undefined ? compact : this.#shared.share(compact);
          },
          this.#verdictTtl,
        );
      }
      let entry: AttestationEntry | undefined;
      let verdict: VerdictLike | undefined;
      try {
        [entry, verdict] = await Promise.all([attested, signed]);
      } catch (error) {
        // The other may still be verifying under the group's deadline: it ends first.
        await Promise.allSettled([attested, signed]);
        throw error;
      } finally {
        run.end();
      }
      if (entry !== undefined) outcomes.push(...entry.outcomes);
      if (verdict !== undefined) outcomes.push(...authorityOutcomes(withPlan(verdict, plan), names));
    }
    return { policy, outcomes };
  }

  /**
   * What the caches hold for `policy` on this digest, appended to `reads` without building anything
   * (no deadline, timers or promises on the cache-hit path): per trust-root group, in order, a marker
   * for a root that is not there, else its attestation outcome and its verdict. False when `evaluate`
   * must run: a verdict or outcome not cached (or expired: an outcome whose condition reads `now` is
   * kept no longer than a refusal), a key read from a Secret (re-read each time), or a
   * `multiArch: index` plan that resolves a tag. The same keys, in the same order, as `evaluate`.
   * What was read decides the evaluation (`evaluationOf`): the same reads, the same evaluation.
   */
  lookUp(
    policy: CompiledPolicy,
    reference: ImageReference,
    digest: string,
    snapshot: PolicySnapshotView,
    /** Counts what was read, for `recordHits` once the whole answer came from the caches. */
    lookups: CacheLookups,
    reads: CacheRead[],
  ): boolean {
    if (!policy.valid) return true;
    const known = planWithoutLookup(policy.multiArch, reference);
    if (known === undefined) return false;
    for (const { rootName, signing, attesting } of trustRootGroups(policy)) {
      const trust = this.#deps.trustRoots.trustRoot(rootName);
      if (trust === undefined) {
        reads.push(snapshot.trustRoots.has(rootName) ? ROOT_NOT_LOADED : ROOT_MISSING);
        continue;
      }
      if (attesting !== undefined) {
        if (attesting.inlineKeys === undefined) return false;
        const scope = attesting.scope.at(snapshot, trust, attesting.inlineKeys);
        const entry = this.#keys.peek(this.#attested, scope, reference, digest, attesting.set);
        if (entry === undefined) return false;
        lookups.attestations++;
        reads.push(entry);
      }
      if (signing !== undefined) {
        if (signing.inlineKeys === undefined) return false;
        const scope = signing.scope.at(snapshot, trust, signing.inlineKeys);
        const verdict = this.#keys.peek(this.#verdicts, scope, reference, digest, known.index);
        if (verdict === undefined) return false;
        lookups.count++;
        reads.push(verdict);
      }
    }
    return true;
  }

  /**
   * The evaluation of what `lookUp` read for `policy` (its reads from `reads[at]` on): what `evaluate`
   * gives from the same cache entries. Pure: the same reads make an evaluation that says the same.
   */
  evaluationOf(
    policy: CompiledPolicy,
    reference: ImageReference,
    reads: readonly CacheRead[],
    at: number,
  ): PolicyEvaluation {
    if (!policy.valid) return { policy };
    // `lookUp` read these only under a plan that needs no lookup.
    const plan = planWithoutLookup(policy.multiArch, reference)!;
    const outcomes: AuthorityOutcome[] = [];
    let next = at;
    for (const { rootName, names, signing, attesting } of trustRootGroups(policy)) {
      const read = reads[next];
      if (read === ROOT_NOT_LOADED || read === ROOT_MISSING) {
        outcomes.push(...unavailable(rootName, names, read === ROOT_NOT_LOADED));
        next++;
        continue;
      }
      if (attesting !== undefined) outcomes.push(...(reads[next++] as AttestationEntry).outcomes);
      if (signing !== undefined) {
        const verdict = withPlan(reads[next++] as VerdictLike, plan);
        outcomes.push(...authorityOutcomes(verdict, signing.names));
      }
    }
    return { policy, outcomes };
  }

  /** Counts cache hits for an answer `lookUp` gave in full. */
  recordHits(count: number, attestations: number): void {
    this.#verdicts.recordHits(count);
    this.#attested.recordHits(attestations);
  }

  async #verify(
    policy: CompiledPolicy,
    reference: ImageReference,
    digest: string,
    authorities: readonly Authority[],
    trust: NonNullable<ReturnType<TrustRootSource['trustRoot']>>,
    run: GroupRun,
    names: readonly string[],
    multiArch: MultiArch,
  ): Promise<ImageVerdict> {
    const repository = { registry: reference.registry, repository: reference.repository };
    let verdict: ImageVerdict;
    const started = performance.now();
    try {
      const known = run.where();
      const where = known instanceof Promise ? await known : known;
      verdict = await this.#registries.run(reference.registry, () =>
        this.#deps.verifier.verify({
          image: { repository, digest },
          authorities,
          trust,
          multiArch,
          ...where,
          ...run.request(),
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
    this.#deps.observer?.verificationTime?.(policy.displayName, (performance.now() - started) / 1000);
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

  /**
   * The attestation authorities of one trust-root group: their outcomes from the cache, or discovered,
   * verified and evaluated once for every concurrent asker. Multi-arch rules do not apply: attestations
   * are about the admitted digest itself.
   */
  async #attest(
    policy: CompiledPolicy,
    reference: ImageReference,
    digest: string,
    snapshot: PolicySnapshotView,
    rootName: string,
    trust: NonNullable<ReturnType<TrustRootSource['trustRoot']>>,
    attesting: AttestingAuthorities,
    authorities: readonly Authority[],
    run: GroupRun,
  ): Promise<AttestationEntry> {
    const { authorities: compiled, predicateTypes, usesNow } = attesting;
    const keys = authorities.map((a) => (a.kind === 'key' ? keyFingerprint(a.publicKey) : '-')).join(',');
    // Its own cache; the last part names the attestation set (authorities and predicate types).
    const key = this.#keys.key(attesting.scope.at(snapshot, trust, keys), reference, digest, attesting.set);
    return this.#attested.get(
      key,
      async () => {
        const repository = { registry: reference.registry, repository: reference.repository };
        const verify = this.#deps.verifier.verifyAttestations?.bind(this.#deps.verifier);
        const started = performance.now();
        let verdict;
        try {
          if (verify === undefined)
            throw new SigwardError('INTERNAL_ERROR', 'this verifier cannot check attestations');
          const known = run.where();
          const where = known instanceof Promise ? await known : known;
          verdict = await this.#registries.run(reference.registry, () =>
            verify({
              image: { repository, digest },
              authorities,
              trust,
              predicateTypes,
              ...where,
              ...run.request(),
            }),
          );
        } catch (error) {
          const code = error instanceof SigwardError ? error.code : 'INTERNAL_ERROR';
          const outcomes = compiled.map((a) => ({
            authority: a.name,
            verified: false,
            code,
            message: describeError(error),
          }));
          return { outcomes, definite: false, usesNow: false };
        }
        this.#deps.observer?.verificationTime?.(policy.displayName, (performance.now() - started) / 1000);
        const now = this.#deps.now?.() ?? new Date();
        const outcomes = compiled.map((a) => attestationOutcome(a, verdict, now));
        for (const o of outcomes)
          for (const r of o.attestations)
            this.#deps.observer?.attestation?.({
              policy: policy.displayName,
              authority: o.authority,
              attestation: r.attestation,
              result: r.passed ? 'verified' : verdict.status === 'error' ? 'error' : 'refused',
              reason: reasonFor(r.code),
            });
        const definite =
          verdict.status !== 'error' &&
          outcomes.every((o) => o.verified || !ERROR_REASONS.has(reasonFor(o.code)));
        // Keep the per-attestation detail out of the cache: the outcomes are what evaluation reads.
        const entry = { outcomes: outcomes.map(({ attestations: _detail, ...o }) => o), definite, usesNow };
        return definite ? this.#shared.share(entry) : entry;
      },
      (entry) => {
        if (!entry.definite) return undefined;
        const ttl = entry.outcomes.every((o) => o.verified)
          ? this.#settings.cache.positiveTtlMs
          : this.#settings.cache.negativeTtlMs;
        // A condition on `now` (freshness) may turn with time alone: re-evaluated at least this often.
        return entry.usesNow ? Math.min(ttl, this.#settings.cache.negativeTtlMs) : ttl;
      },
    );
  }

  /**
   * What the verifications of one trust-root group share: where they look and with which credentials
   * (worked out once), one deadline counted from the first to start and cleared when the group's
   * verifications are over (`end`), and, when signatures and attestations are both checked, their
   * registry reads.
   */
  #groupRun(policy: CompiledPolicy, keychain: Keychain, share: boolean): GroupRun {
    let where: Where | Promise<Where> | undefined;
    let cap: Deadline | undefined;
    const reads = share ? new SharedReads() : undefined;
    return {
      where: () => (where ??= this.#where(policy, keychain)),
      request: () => {
        const signal = (cap ??= new Deadline(this.#settings.verificationCapMs)).signal;
        return reads === undefined ? { signal } : { signal, reads };
      },
      end: () => cap?.end(),
    };
  }

  /**
   * Where a verification of this policy looks, and with which credentials: at once unless a pull
   * secret of the signature repository has to be read.
   */
  #where(policy: CompiledPolicy, workload: Keychain): Where | Promise<Where> {
    const repository = policy.signatureRepository?.repository;
    if (policy.signatureRepository?.pullSecret === undefined)
      return repository === undefined
        ? { keychain: workload }
        : { keychain: workload, signatureRepository: repository };
    return this.#keychain(policy, workload).then((keychain) =>
      repository === undefined ? { keychain } : { keychain, signatureRepository: repository },
    );
  }

  /**
   * The workload's credentials, and, when the policy names a pull secret for its signature repository,
   * that secret's credentials first for that repository only (never for the image itself). The secret
   * lives in the ImagePolicy's namespace, or in sigward's own for a ClusterImagePolicy, as key Secrets.
   * A missing one is an error verdict naming it (never cached, never an allow).
   */
  async #keychain(policy: CompiledPolicy, workload: Keychain): Promise<Keychain> {
    const signatures = policy.signatureRepository;
    if (signatures?.pullSecret === undefined) return workload;
    const namespace = policy.namespace ?? this.#settings.ownNamespace;
    const read = this.#deps.credentials?.secretKeychain?.bind(this.#deps.credentials);
    if (namespace === undefined || read === undefined)
      throw new SigwardError(
        'POLICY_PULL_SECRET_UNAVAILABLE',
        `the pull secret ${signatures.pullSecret} of the signature repository needs a cluster connection`,
      );
    const secret = await read({ namespace, name: signatures.pullSecret });
    return combineKeychains(onlyFor(signatures.repository, secret), workload);
  }

  /** #ttl, made once (not a closure per verification). */
  readonly #verdictTtl = (verdict: VerdictLike): number | undefined => this.#ttl(verdict);

  #ttl(verdict: VerdictLike): number | undefined {
    if (verdict.status === 'verified') return this.#settings.cache.positiveTtlMs;
    if (verdict.status === 'error') return undefined;
    // A refusal caused by an error category (trust root, internal) is not definite either.
    if (ERROR_REASONS.has(reasonFor(verdict.code))) return undefined;
    return this.#settings.cache.negativeTtlMs;
  }

  async #authority(a: CompiledAuthority, policy: CompiledPolicy): Promise<Authority> {
    // Keyless and inline keys: inlineAuthority converts them (defined for exactly these).
    if (a.kind === 'keyless' || a.key.source === 'data') return inlineAuthority(a)!;
    if (this.#deps.keys === undefined)
      throw new SigwardError(
        'POLICY_KEY_UNAVAILABLE',
        `authority ${a.name}: keys in Secrets need a cluster connection`,
      );
    const namespace = keySecretNamespace(a.key, policy, this.#settings.ownNamespace);
    if (namespace === undefined)
      throw new SigwardError(
        'POLICY_KEY_UNAVAILABLE',
        `authority ${a.name}: sigward's own namespace (where ClusterImagePolicy key Secrets live) is not set`,
      );
    const publicKey = await this.#deps.keys.publicKey({ namespace, name: a.key.name, key: a.key.key });
    return { kind: 'key', name: a.name, publicKey, requireTlog: a.requireTlog };
  }
}

type Where = { keychain: Keychain; signatureRepository?: RepositoryName };

interface GroupRun {
  where(): Where | Promise<Where>;
  /** The deadline (created by the first verification to start) and the shared reads. */
  request(): { signal: AbortSignal; reads?: SharedReads };
  /** Every verification of the group is over: its deadline's timer goes (deadline.ts). */
  end(): void;
}

/** Authorities of one kind (signing, or attesting) within a trust-root group. */
interface AuthoritySet {
  /** Their positions in the group. */
  readonly indices: readonly number[];
  readonly authorities: readonly CompiledAuthority[];
  readonly names: readonly string[];
  /** The key part of the cache key when no authority reads its key from a Secret, else undefined. */
  readonly inlineKeys: string | undefined;
  /** What their verdicts are judged by (the verdict key but the image and index), made once. */
  readonly scope: VerdictScopeSlot;
}

interface AttestingAuthorities extends AuthoritySet {
  /** Every predicate type they require, distinct and sorted: what discovery looks for. */
  readonly predicateTypes: readonly string[];
  /** The last part of the attestation cache key: the authorities and the predicate types. */
  readonly set: string;
  /** A condition reads `now`: the outcome may turn with time alone. */
  readonly usesNow: boolean;
}

interface TrustRootGroup {
  readonly rootName: string;
  readonly authorities: readonly CompiledAuthority[];
  /**
   * The authorities as sigstore/ takes them, when none reads its key from a Secret (keyless, inline
   * keys): converted once, frozen, handed to every verification. Undefined: converted per evaluation.
   */
  readonly inline: readonly Authority[] | undefined;
  readonly names: readonly string[];
  /** Authorities satisfied by an image signature; undefined when there are none. */
  readonly signing: AuthoritySet | undefined;
  /** Authorities satisfied by attestations; undefined when there are none. */
  readonly attesting: AttestingAuthorities | undefined;
}

/** What `lookUp` read, for `recordHits`. */
export interface CacheLookups {
  /** Verdicts read. */
  count: number;
  /** Attestation outcomes read. */
  attestations: number;
}

const groupsByPolicy = new WeakMap<CompiledPolicy, readonly TrustRootGroup[]>();

function authoritySet(
  policy: CompiledPolicy,
  rootName: string,
  group: readonly CompiledAuthority[],
  wanted: (a: CompiledAuthority) => boolean,
): AuthoritySet | undefined {
  const indices = group.flatMap((a, i) => (wanted(a) ? [i] : []));
  if (indices.length === 0) return undefined;
  const authorities = indices.map((i) => group[i]!);
  return {
    indices,
    authorities,
    names: authorities.map((a) => a.name),
    inlineKeys: authorities.some((a) => a.kind === 'key' && a.key.source !== 'data')
      ? undefined
      : authorities
          .map((a) => (a.kind === 'key' && a.key.source === 'data' ? keyFingerprint(a.key.publicKey) : '-'))
          .join(','),
    scope: new VerdictScopeSlot(policy, rootName),
  };
}

function attestingSet(
  policy: CompiledPolicy,
  rootName: string,
  group: readonly CompiledAuthority[],
): AttestingAuthorities | undefined {
  const base = authoritySet(policy, rootName, group, (a) => a.attestations.length > 0);
  if (base === undefined) return undefined;
  const required = base.authorities.flatMap((a) => a.attestations);
  const predicateTypes = [...new Set(required.map((x) => x.predicateType))].sort();
  return {
    ...base,
    predicateTypes,
    set: `attestations ${base.names.join(',')} ${predicateTypes.join(' ')}`,
    usesNow: required.some((x) => x.conditions.some((c) => c.usesNow)),
  };
}

/** Authorities sharing a trust root are verified together (one discovery per root); computed once per policy. */
function trustRootGroups(policy: CompiledPolicy): readonly TrustRootGroup[] {
  let groups = groupsByPolicy.get(policy);
  if (groups === undefined) {
    const byRoot = new Map<string, CompiledAuthority[]>();
    for (const a of policy.authorities)
      byRoot.set(a.trustRootRef, [...(byRoot.get(a.trustRootRef) ?? []), a]);
    groups = [...byRoot].map(([rootName, authorities]) => ({
      rootName,
      authorities,
      inline: inlineAuthorities(authorities),
      names: authorities.map((a) => a.name),
      signing: authoritySet(policy, rootName, authorities, (a) => a.attestations.length === 0),
      attesting: attestingSet(policy, rootName, authorities),
    }));
    groupsByPolicy.set(policy, groups);
  }
  return groups;
}

/** An authority as sigstore/ takes it when it needs no Secret (keyless, a key given inline), frozen. */
function inlineAuthority(a: CompiledAuthority): Authority | undefined {
  if (a.kind === 'keyless')
    return Object.freeze({
      kind: 'keyless',
      name: a.name,
      match: a.match,
      requireTlog: a.requireTlog,
      requireSct: a.requireSct,
    });
  if (a.key.source === 'data')
    return Object.freeze({
      kind: 'key',
      name: a.name,
      publicKey: a.key.publicKey,
      requireTlog: a.requireTlog,
    });
  return undefined;
}

/** Every authority of a group converted by inlineAuthority; undefined when one needs a Secret. */
function inlineAuthorities(authorities: readonly CompiledAuthority[]): readonly Authority[] | undefined {
  const converted: Authority[] = [];
  for (const a of authorities) {
    const inline = inlineAuthority(a);
    if (inline === undefined) return undefined;
    converted.push(inline);
  }
  return Object.freeze(converted);
}

/** A TrustRoot the snapshot names (not loaded yet) or does not (does not exist), as `lookUp` reads it. */
const ROOT_NOT_LOADED = Symbol('trust root not loaded');
const ROOT_MISSING = Symbol('trust root missing');

/**
 * One thing `lookUp` read: a verdict, an attestation outcome, or a marker for a missing root. Compared
 * by identity (a cached value is never changed; the verdict cache shares one object per content).
 */
export type CacheRead = VerdictLike | AttestationEntry | typeof ROOT_NOT_LOADED | typeof ROOT_MISSING;

function unavailable(rootName: string, names: readonly string[], known: boolean): AuthorityOutcome[] {
  const why = known ? 'is not loaded yet' : 'does not exist';
  return names.map((authority) => ({
    authority,
    verified: false,
    code: 'TRUST_ROOT_UNAVAILABLE',
    message: `the TrustRoot ${rootName} ${why}`,
  }));
}

/**
 * The namespace of a key Secret: the authority's, else the ImagePolicy's, else sigward's own (for a
 * ClusterImagePolicy). Never the workload's: a workload must not be able to supply the key it is checked
 * with. The re-check watches exactly these Secrets.
 */
export function keySecretNamespace(
  key: { readonly namespace?: string | undefined },
  policy: { readonly namespace?: string | undefined },
  ownNamespace: string | undefined,
): string | undefined {
  return key.namespace ?? policy.namespace ?? ownNamespace;
}

const fingerprints = new WeakMap<KeyObject, string>();

/** sha256 of the key's SPKI bytes (memoised: kube/ hands out the same KeyObject until it re-reads). */
export function keyFingerprint(key: KeyObject): string {
  let print = fingerprints.get(key);
  if (print === undefined) {
    print = createHash('sha256')
      .update(key.export({ type: 'spki', format: 'der' }))
      .digest('hex');
    fingerprints.set(key, print);
  }
  return print;
}

/** A keychain that answers for one repository only. */
function onlyFor(repository: RepositoryName, keychain: Keychain): Keychain {
  return {
    credentialsFor: (registry, name) =>
      registry === repository.registry && name === repository.repository
        ? keychain.credentialsFor(registry, name)
        : [],
  };
}
