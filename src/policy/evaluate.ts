// Given what verification found for one image, decide. Pure.
//
//   evaluateImage(input, settings)        → ImageDecision (decision.ts)
//   authorityOutcomes(verdict, names)     → AuthorityOutcome[] from a sigstore/verify-image verdict
//   reasonFor(code)                       → the ReasonCode of a sigstore / registry / engine code
//
// Rules: within a policy the authorities are OR'd up to `threshold` DISTINCT authorities (two
// signatures by one authority count once); every matching policy must pass (AND); the mode turns a
// failure into deny / warn / audit. When no policy matches, the global `unmatched` setting decides.
// A failure whose truth is unknown (registry, timeout, trust root, internal) is capped by the global
// `errors` setting, and only counts as an error if the missing authorities could have reached the
// threshold; otherwise the policy failed for certain. Nothing here turns an error into a silent allow.
import { ERROR_REASONS, ReasonCode, combineOutcomes } from './decision.ts';
import type { ImageDecision, Outcome, PolicyResult } from './decision.ts';
import { describeFound } from './compile.ts';
import { repositoryOf } from './match.ts';
import type { CompiledPolicy } from './compile.ts';

/** Who did sign (structurally sigstore/verify-candidate's ProvenSigner). */
export type FoundSigner =
  | {
      readonly kind: 'certificate';
      readonly issuer: string | undefined;
      readonly subject: string | undefined;
      readonly extensions?: Readonly<Record<string, string | undefined>>;
    }
  | { readonly kind: 'key' };

/** What verification said about one authority of one policy for one image. */
export interface AuthorityOutcome {
  /** The authority's name in the policy. */
  readonly authority: string;
  readonly verified: boolean;
  /** VERIFIED, NO_SIGNATURES, IDENTITY_SUBJECT_MISMATCH, SIGSTORE_*, REGISTRY_*, TIMEOUT, or a ReasonCode. */
  readonly code: string;
  /** The verifier's words (`none of 2 signature(s) is valid: …`). */
  readonly message: string;
  /** Who signed, when a signature verified but names someone the authority does not accept. */
  readonly found?: FoundSigner;
  /** Attestation authorities: the required attestation the failure is about. */
  readonly attestation?: string;
}

/** The parts of sigstore/verify-image's ImageVerdict that evaluation reads (structural, no import). */
export interface VerdictLike {
  readonly status: 'verified' | 'rejected' | 'unsigned' | 'error';
  readonly code: string;
  readonly message: string;
  readonly signatures: readonly (
    | {
        readonly verified: true;
        readonly authorities: readonly string[];
        readonly rejectedBy?: readonly { authority: string; code: string; reason: string }[];
        readonly signer: FoundSigner;
      }
    | {
        readonly verified: false;
        readonly code: string;
        readonly reason: string;
        readonly signer?: FoundSigner;
      }
  )[];
  readonly platforms?: readonly VerdictLike[];
  readonly index?: VerdictLike;
}

/** One matched policy and what verification said for each of its authorities. */
export interface PolicyEvaluation {
  readonly policy: Pick<
    CompiledPolicy,
    'displayName' | 'mode' | 'valid' | 'errors' | 'authorities' | 'threshold'
  >;
  /** One per authority (missing ones count as INTERNAL_ERROR, never as passed). */
  readonly outcomes?: readonly AuthorityOutcome[];
  /** The policy could not be examined at all (deadline, tag resolution, trust root): code + words. */
  readonly failure?: { readonly code: string; readonly message: string };
}

export interface ImageEvaluation {
  /** Field path: `spec.containers[0].image`. */
  readonly field: string;
  /** As written in the manifest. */
  readonly image: string;
  /** The digest verified, when resolved. */
  readonly digest?: string;
  /** Every policy that matched (policy/match.ts). Empty → the `unmatched` setting decides. */
  readonly policies: readonly PolicyEvaluation[];
  /** The image could not be examined (unparsable reference, digest not resolved): applies to every policy. */
  readonly failure?: { readonly code: string; readonly message: string };
}

export interface EvaluationSettings {
  /** Images no policy matches. */
  readonly unmatched: 'allow' | 'audit' | 'warn' | 'deny';
  /**
   * The strongest outcome an ERROR (registry, timeout, trust root, internal) may produce. 'deny' (the
   * default, fail closed) lets the policy's mode decide; 'warn' / 'audit' soften enforce policies.
   */
  readonly errors: 'deny' | 'warn' | 'audit';
}

export const DEFAULT_EVALUATION_SETTINGS: EvaluationSettings = Object.freeze({
  unmatched: 'deny',
  errors: 'deny',
});

const MODE_OUTCOME: Readonly<Record<'enforce' | 'warn' | 'audit', Outcome>> = {
  enforce: 'deny',
  warn: 'warn',
  audit: 'audit',
};
const RANK: Readonly<Record<Outcome, number>> = { allow: 0, audit: 1, warn: 2, deny: 3 };
const weaker = (a: Outcome, b: Outcome): Outcome => (RANK[a] <= RANK[b] ? a : b);

const REASON_VALUES: ReadonlySet<string> = new Set(Object.values(ReasonCode));

/** Maps the codes of sigstore/, oci/ and the engine onto the stable reason categories. */
export function reasonFor(code: string): ReasonCode {
  if (REASON_VALUES.has(code)) return code as ReasonCode;
  switch (code) {
    case 'NO_SIGNATURES':
      return ReasonCode.signatureMissing;
    case 'INDEX_DOES_NOT_LIST_IMAGE':
      return ReasonCode.indexMismatch;
    case 'IDENTITY_ISSUER_MISMATCH':
      return ReasonCode.issuerMismatch;
    case 'SIGSTORE_KEY_UNTRUSTED':
      return ReasonCode.keyMismatch;
    case 'SIGSTORE_CERTIFICATE_UNTRUSTED':
      return ReasonCode.certificateUntrusted;
    case 'SIGSTORE_TLOG_INVALID':
    case 'SIGSTORE_TIMESTAMP_INVALID':
      return ReasonCode.tlogInvalid;
    case 'SIGSTORE_TRUST_ROOT_INVALID':
    case 'SIGSTORE_TRUST_ROOT_UNAVAILABLE':
      return ReasonCode.trustRootError;
    case 'SIGSTORE_KEY_MALFORMED':
      return ReasonCode.policyInvalid;
    case 'REGISTRY_UNAUTHORIZED':
    case 'REGISTRY_DENIED':
    case 'CREDENTIALS_INVALID':
      return ReasonCode.registryAuth;
    case 'REGISTRY_TIMEOUT':
    case 'REGISTRY_ABORTED':
    case 'DEADLINE_EXCEEDED':
      return ReasonCode.timeout;
    case 'REFERENCE_INVALID':
      return ReasonCode.imageInvalid;
  }
  if (code.startsWith('IDENTITY_')) return ReasonCode.identityMismatch;
  if (code.startsWith('SIGSTORE_')) return ReasonCode.signatureInvalid;
  if (code.startsWith('REGISTRY_')) return ReasonCode.registryError;
  if (code.startsWith('POLICY_')) return ReasonCode.policyInvalid;
  if (code.startsWith('TRUST_ROOT_')) return ReasonCode.trustRootError;
  return ReasonCode.internalError;
}

// Which definitive failure explains the most: someone signed but is not accepted > a broken signature
// > a multi-arch gap > nothing signed.
function rank(reason: ReasonCode): number {
  switch (reason) {
    case ReasonCode.identityMismatch:
    case ReasonCode.issuerMismatch:
    case ReasonCode.attestationConditionFailed:
      return 5;
    case ReasonCode.keyMismatch:
    case ReasonCode.certificateUntrusted:
    case ReasonCode.tlogInvalid:
    case ReasonCode.signatureInvalid:
      return 4;
    case ReasonCode.platformNotSigned:
    case ReasonCode.indexMismatch:
    case ReasonCode.indexWithoutPlatforms:
      return 3;
    case ReasonCode.signatureMissing:
    case ReasonCode.attestationMissing:
      return 2;
    default:
      return 1;
  }
}

// Only a verdict that verified credits anyone; under every-platform rules, only an authority that
// verified every platform (an index without platforms credits nobody).
function credited(verdict: VerdictLike): Set<string> {
  if (verdict.status !== 'verified') return new Set();
  if (verdict.platforms !== undefined) {
    const [first, ...rest] = verdict.platforms.map(credited);
    return new Set([...(first ?? [])].filter((a) => rest.every((s) => s.has(a))));
  }
  const names = new Set<string>();
  for (const s of verdict.signatures) if (s.verified) for (const a of s.authorities) names.add(a);
  if (verdict.index !== undefined) for (const a of credited(verdict.index)) names.add(a);
  return names;
}

function foundSigner(verdict: VerdictLike): FoundSigner | undefined {
  for (const s of verdict.signatures) if (!s.verified && s.signer?.kind === 'certificate') return s.signer;
  for (const p of verdict.platforms ?? []) {
    const f = foundSigner(p);
    if (f !== undefined) return f;
  }
  return verdict.index === undefined ? undefined : foundSigner(verdict.index);
}

/**
 * Per-authority outcomes from one verify-image verdict run with the policy's authorities. An authority
 * is credited by every signature it accepts (one signature may satisfy several authorities, and each
 * counts for the threshold); under every-platform rules only if it accepts a signature on every
 * platform. An authority credited by nothing gets the verdict's decisive failure or, when the verdict
 * verified through other authorities, why it refused a signature they accepted (NO_SIGNATURES if none).
 */
export function authorityOutcomes(verdict: VerdictLike, authorities: readonly string[]): AuthorityOutcome[] {
  const names =
    authorities.length === 1 && verdict.status === 'verified' ? new Set(authorities) : credited(verdict);
  const found = foundSigner(verdict);
  return authorities.map((authority) => {
    if (names.has(authority))
      return { authority, verified: true, code: 'VERIFIED', message: verdict.message };
    if (verdict.status === 'verified') {
      const refusal = rejection(verdict, authority);
      return refusal === undefined
        ? { authority, verified: false, code: 'NO_SIGNATURES', message: 'no signature by this authority' }
        : {
            authority,
            verified: false,
            code: refusal.code,
            message: refusal.reason,
            found: refusal.signer,
          };
    }
    return {
      authority,
      verified: false,
      code: verdict.code,
      message: verdict.message,
      ...(found ? { found } : {}),
    };
  });
}

/** Why `authority` refused a signature that others accepted (the first such, index included). */
function rejection(
  verdict: VerdictLike,
  authority: string,
): { code: string; reason: string; signer: FoundSigner } | undefined {
  for (const s of verdict.signatures)
    if (s.verified) {
      const refusal = s.rejectedBy?.find((r) => r.authority === authority);
      if (refusal !== undefined) return { ...refusal, signer: s.signer };
    }
  return verdict.index === undefined ? undefined : rejection(verdict.index, authority);
}

function failed(
  policy: PolicyEvaluation['policy'],
  reason: ReasonCode,
  settings: EvaluationSettings,
  rest: Omit<PolicyResult, 'policy' | 'mode' | 'passed' | 'reason' | 'outcome'>,
): PolicyResult {
  let outcome = MODE_OUTCOME[policy.mode];
  if (ERROR_REASONS.has(reason)) outcome = weaker(outcome, settings.errors);
  return { policy: policy.displayName, mode: policy.mode, passed: false, reason, outcome, ...rest };
}

function authorityResult(
  policy: PolicyEvaluation['policy'],
  outcome: AuthorityOutcome,
  settings: EvaluationSettings,
): PolicyResult {
  const reason = reasonFor(outcome.code);
  const authority = policy.authorities.find((a) => a.name === outcome.authority);
  const identity =
    (reason === ReasonCode.identityMismatch || reason === ReasonCode.issuerMismatch) &&
    outcome.found?.kind === 'certificate' &&
    authority !== undefined
      ? {
          expected:
            outcome.attestation === undefined
              ? authority.expected
              : `attestation ${outcome.attestation} signed by ${authority.expected}`,
          found: describeFound(outcome.found),
        }
      : {};
  // Say whose signature would have done, so the reader knows what to go and make: when nothing signed
  // it, when it was signed the wrong way (a key for a certificate, or the reverse), and for a key
  // authority when a signature fails the check against its key (most often: signed with another key;
  // not a malformed or oversized one, nor one about other content).
  const missing = reason === ReasonCode.signatureMissing || reason === ReasonCode.attestationMissing;
  const notOurKey =
    reason === ReasonCode.keyMismatch ||
    (authority?.kind === 'key' && outcome.code === 'SIGSTORE_SIGNATURE_INVALID');
  const what =
    outcome.attestation === undefined ? 'a signature' : `an attestation ${outcome.attestation} signed`;
  const wanted =
    (missing || notOurKey) && authority !== undefined
      ? `; expected ${authority.kind === 'keyless' ? `${what} by ${authority.expected}` : authority.expected.replace(/^a signature/, what)}`
      : '';
  // A certificate or log proof that does not verify: against which trust material, so a policy naming
  // the wrong TrustRoot (or none, hence public-good) is told apart from a forged signature.
  const against =
    (reason === ReasonCode.certificateUntrusted || reason === ReasonCode.tlogInvalid) &&
    authority !== undefined
      ? `; checked against TrustRoot ${authority.trustRootRef}`
      : '';
  return failed(policy, reason, settings, {
    authority: outcome.authority,
    detail: `${outcome.message}${wanted}${against}`,
    cause: outcome.code,
    ...identity,
  });
}

function evaluatePolicy(
  e: PolicyEvaluation,
  image: ImageEvaluation,
  settings: EvaluationSettings,
): PolicyResult {
  const policy = e.policy;
  if (!policy.valid) {
    const first = policy.errors[0];
    const why = first === undefined ? 'it does not compile' : `${first.field}: ${first.message}`;
    return failed(policy, ReasonCode.policyInvalid, settings, {
      // The field itself, not a pointer to a Ready condition: policies from --policies DIR, `policy
      // test` and policy-controller's resources have none.
      detail: `the policy is invalid: ${why}`,
    });
  }
  const failure = image.failure ?? e.failure;
  if (failure !== undefined)
    return failed(policy, reasonFor(failure.code), settings, {
      detail: failure.message,
      cause: failure.code,
    });

  const byName = new Map<string, AuthorityOutcome>();
  for (const o of e.outcomes ?? []) if (!byName.has(o.authority) || o.verified) byName.set(o.authority, o);
  const verified: string[] = [];
  const errors: PolicyResult[] = [];
  const definite: PolicyResult[] = [];
  for (const a of policy.authorities) {
    const o = byName.get(a.name);
    if (o?.verified === true) {
      verified.push(a.name);
      continue;
    }
    const r =
      o === undefined
        ? failed(policy, ReasonCode.internalError, settings, {
            authority: a.name,
            detail: 'no verification outcome for this authority',
          })
        : authorityResult(policy, o, settings);
    (ERROR_REASONS.has(r.reason) ? errors : definite).push(r);
  }
  if (verified.length >= policy.threshold) {
    return {
      policy: policy.displayName,
      mode: policy.mode,
      passed: true,
      reason: ReasonCode.verified,
      outcome: 'allow',
      detail: `verified by ${verified.join(', ')}`,
    };
  }
  // Could the authorities that errored still have reached the threshold? Then the truth is unknown.
  if (errors.length > 0 && verified.length + errors.length >= policy.threshold) return errors[0]!;
  const best = [...definite, ...errors].reduce<PolicyResult | undefined>(
    (b, r) => (b === undefined || rank(r.reason) > rank(b.reason) ? r : b),
    undefined,
  );
  if (policy.threshold > 1) {
    const passed = verified.length === 0 ? 'none passed' : `passed: ${verified.join(', ')}`;
    const why =
      best === undefined
        ? ''
        : `; ${best.authority}: ${best.expected !== undefined ? `expected ${best.expected}, found ${best.found}` : best.detail}`;
    return failed(policy, ReasonCode.thresholdNotMet, settings, {
      detail: `${verified.length} of ${policy.threshold} required distinct authorities verified (${passed})${why}`,
      ...(best?.cause === undefined ? {} : { cause: best.cause }),
    });
  }
  return (
    best ?? failed(policy, ReasonCode.internalError, settings, { detail: 'the policy has no authorities' })
  );
}

/**
 * The name policy globs were matched against (`nginx:1.27` → `index.docker.io/library/nginx`), so a
 * developer sees why `docker.io/nginx*` or `library/*` did or did not apply.
 */
function matchedName(image: string): string {
  try {
    return repositoryOf(image);
  } catch {
    return 'this image';
  }
}

/** Decides one image site: every matched policy must pass; no match → `settings.unmatched`. */
export function evaluateImage(
  input: ImageEvaluation,
  settings: EvaluationSettings = DEFAULT_EVALUATION_SETTINGS,
): ImageDecision {
  const base = {
    field: input.field,
    image: input.image,
    ...(input.digest === undefined ? {} : { digest: input.digest }),
  };
  let results: PolicyResult[];
  if (input.policies.length === 0) {
    const imageBroken =
      input.failure !== undefined && reasonFor(input.failure.code) === ReasonCode.imageInvalid;
    if (imageBroken) {
      // Nothing can be matched against an unreadable reference: never an allow.
      results = [
        {
          mode: 'enforce',
          passed: false,
          reason: ReasonCode.imageInvalid,
          outcome: 'deny',
          detail: input.failure?.message ?? '',
          cause: input.failure?.code ?? '',
        },
      ];
    } else {
      const outcome: Outcome = settings.unmatched;
      const mode = outcome === 'deny' ? 'enforce' : outcome === 'allow' ? 'audit' : outcome;
      results = [
        {
          mode,
          passed: outcome === 'allow',
          reason: ReasonCode.noPolicy,
          outcome,
          detail: `no image policy matches ${matchedName(input.image)} (unmatched images: ${settings.unmatched})`,
        },
      ];
    }
  } else {
    results = input.policies.map((p) => evaluatePolicy(p, input, settings));
  }
  return { ...base, outcome: combineOutcomes(results.map((r) => r.outcome)), results };
}
