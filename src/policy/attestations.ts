// An authority that requires attestations, against what verification found: every required
// attestation must have at least one statement of its predicate type, accepted by this authority
// (signature, certificate, log, subject = the admitted digest: all checked by sigstore/ before), on
// which every condition holds. Pure: the engine passes the verdict and the time of the decision.
//
//   attestationOutcome(authority, verdict, now) → AuthorityOutcome (evaluate.ts) plus per-attestation results
//
// A denial names the attestation and says what was missing, who signed instead, or which condition
// failed with the values it read (bounded by conditions.ts).
import type { CompiledAttestation, CompiledAuthority } from './compile.ts';
import type { ConditionInput } from './conditions.ts';
import type { AuthorityOutcome, FoundSigner } from './evaluate.ts';

export const ATTESTATION_CODE = {
  missing: 'ATTESTATION_MISSING',
  conditionFailed: 'ATTESTATION_CONDITION_FAILED',
} as const;

/** The parts of sigstore/verify-attestations' verdict read here (structural, no import). */
export interface AttestationVerdictLike {
  readonly status: 'checked' | 'error';
  readonly code: string;
  readonly message: string;
  readonly digest: string;
  readonly attestations: readonly {
    readonly predicateType: string | undefined;
    readonly outcome:
      | {
          readonly verified: true;
          readonly authorities: readonly string[];
          readonly rejectedBy?: readonly { authority: string; code: string; reason: string }[];
          readonly signer: FoundSigner;
          readonly statement?: {
            readonly predicateType: string;
            readonly subject: ConditionInput['subject'];
            readonly predicate: unknown;
          };
        }
      | {
          readonly verified: false;
          readonly code: string;
          readonly reason: string;
          readonly signer?: FoundSigner;
        };
  }[];
  readonly otherTypes: Readonly<Record<string, number>>;
  readonly lookedIn: string;
  readonly truncated: boolean;
}

/** One required attestation's result, for metrics (bounded labels: policy, authority, attestation). */
export interface AttestationResult {
  readonly attestation: string;
  readonly passed: boolean;
  /** VERIFIED, ATTESTATION_MISSING, ATTESTATION_CONDITION_FAILED, IDENTITY_*, SIGSTORE_*, REGISTRY_*. */
  readonly code: string;
  readonly message: string;
  /** On a failure, the signer of the attestation that came closest. */
  readonly found?: FoundSigner;
  /** On a pass, the signer of the attestation on which every condition held. */
  readonly satisfiedBy?: FoundSigner;
}

// Identity and content failures say more than broken bundles, which say more than unreadable ones.
function rank(code: string): number {
  if (code.startsWith('IDENTITY_')) return 5;
  if (code === 'SIGSTORE_CONTENT_MISMATCH') return 4;
  if (code === 'SIGSTORE_KEY_UNTRUSTED') return 1;
  if (code.startsWith('SIGSTORE_')) return 3;
  return 2;
}

function one(
  authority: string,
  required: CompiledAttestation,
  verdict: AttestationVerdictLike,
  now: Date,
): AttestationResult {
  const label = `attestation ${required.name} (${required.predicateType})`;
  const ofType = verdict.attestations.filter(
    (a) => a.predicateType === required.predicateType || a.predicateType === undefined,
  );
  const accepted = ofType.flatMap((a) =>
    a.outcome.verified && a.outcome.authorities.includes(authority) && a.outcome.statement !== undefined
      ? [{ signer: a.outcome.signer, statement: a.outcome.statement }]
      : [],
  );
  if (accepted.length === 0) {
    const failures = ofType.flatMap((a): { code: string; reason: string; signer?: FoundSigner }[] => {
      if (!a.outcome.verified) return [a.outcome];
      const refusal = a.outcome.rejectedBy?.find((r) => r.authority === authority);
      return refusal === undefined ? [] : [{ ...refusal, signer: a.outcome.signer }];
    });
    const typed = ofType.filter((a) => a.predicateType !== undefined).length;
    if (failures.length === 0 || typed === 0) {
      const others = Object.entries(verdict.otherTypes)
        .map(([t, n]) => `${n} of ${t}`)
        .join(', ');
      const unreadable =
        failures.length === 0
          ? ''
          : `; ${failures.length} attestation(s) could not be read: ${failures[0]!.reason}`;
      return {
        attestation: required.name,
        passed: false,
        code: ATTESTATION_CODE.missing,
        message: `${label}: none found (looked in ${verdict.lookedIn})${others === '' ? '' : `; found only ${others}`}${unreadable}${verdict.truncated ? ' (more were listed than examined)' : ''}`,
      };
    }
    const best = failures.reduce((b, f) => (rank(f.code) > rank(b.code) ? f : b));
    return {
      attestation: required.name,
      passed: false,
      code: best.code,
      message: `${label}: none of ${ofType.length} is accepted: ${best.reason}`,
      ...(best.signer === undefined ? {} : { found: best.signer }),
    };
  }
  // Any accepted statement on which every condition holds satisfies the requirement.
  let firstFailure: string | undefined;
  for (const { signer, statement } of accepted) {
    const input: ConditionInput = {
      predicate: statement.predicate,
      predicateType: statement.predicateType,
      subject: statement.subject,
      signer: signer.kind === 'certificate' ? signer : {},
      now,
    };
    const failed = required.conditions
      .map((c, i) => ({ i, c, r: c.evaluate(input) }))
      .find((x) => !x.r.holds);
    if (failed === undefined)
      return {
        attestation: required.name,
        passed: true,
        code: 'VERIFIED',
        message: `${label}: ${required.conditions.length} condition(s) hold`,
        satisfiedBy: signer,
      };
    if (firstFailure === undefined && !failed.r.holds)
      firstFailure = `condition[${failed.i}] \`${failed.c.expression}\` ${failed.r.message}`;
  }
  const of = accepted.length > 1 ? ` (on each of ${accepted.length} accepted attestations; the first)` : '';
  return {
    attestation: required.name,
    passed: false,
    code: ATTESTATION_CODE.conditionFailed,
    message: `${label}${of}: ${firstFailure ?? 'a condition failed'}`,
  };
}

/**
 * The authority's outcome: verified when every required attestation passed; otherwise the first that
 * failed, in words naming it. A registry failure is the verdict's own error code (not definite).
 */
export function attestationOutcome(
  authority: Pick<CompiledAuthority, 'name' | 'attestations'>,
  verdict: AttestationVerdictLike,
  now: Date,
): AuthorityOutcome & { readonly attestations: readonly AttestationResult[] } {
  if (verdict.status === 'error')
    return {
      authority: authority.name,
      verified: false,
      code: verdict.code,
      message: verdict.message,
      attestations: authority.attestations.map((a) => ({
        attestation: a.name,
        passed: false,
        code: verdict.code,
        message: verdict.message,
      })),
    };
  const results = authority.attestations.map((a) => one(authority.name, a, verdict, now));
  const failed = results.find((r) => !r.passed);
  if (failed === undefined)
    return {
      authority: authority.name,
      verified: true,
      code: 'VERIFIED',
      message: `attested: ${results.map((r) => r.attestation).join(', ')}`,
      attestations: results,
    };
  return {
    authority: authority.name,
    verified: false,
    code: failed.code,
    message: failed.message,
    ...(failed.found === undefined ? {} : { found: failed.found }),
    attestation: failed.attestation,
    attestations: results,
  };
}
