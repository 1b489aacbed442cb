// Decisions → AdmissionResponse. One pure function per kind of reply.
//
//   decisionResponse(uid, decisions) → denied (403, one sentence per failed field) if any decision is
//                                      deny; else allowed, with a kubectl warning per warn failure and
//                                      audit annotations for warn/audit failures
//   skipResponse(uid, skip)          → allowed, with the skip rule as an audit annotation
//   errorResponse(uid, error, outcome) → a bad request or internal failure: denied with the code and
//                                      message (or, for outcome 'warn', allowed with a warning)
//
// The API server keeps warnings short: each at most 256 characters and 4096 in all, so warnings are
// clipped and counted; the denial message is bounded too (a 10,000-container manifest must not make
// a megabyte reply).
import { SigwardError } from '../errors.ts';
import { WARNING_MAX, clip, failureMessage, warningMessage } from '../policy/decision.ts';
import type { ImageDecision, PolicyResult } from '../policy/decision.ts';
import type { AdmissionResponse } from './review.ts';
import type { Skip } from './skip.ts';

export const ANNOTATION_DECISION = 'decision';
export const ANNOTATION_FAILURES = 'failures';
export const ANNOTATION_SKIPPED = 'skipped';
const MAX_WARNINGS_TOTAL = 4096;
const MAX_DENIAL_LINES = 10;
const MAX_ANNOTATION = 4096;

function failures(
  decisions: readonly ImageDecision[],
  outcome?: PolicyResult['outcome'],
): Array<[ImageDecision, PolicyResult]> {
  const out: Array<[ImageDecision, PolicyResult]> = [];
  for (const d of decisions)
    for (const r of d.results)
      if (!r.passed && r.outcome !== 'allow' && (outcome === undefined || r.outcome === outcome))
        out.push([d, r]);
  return out;
}

function warningsFor(decisions: readonly ImageDecision[]): string[] {
  const all = failures(decisions, 'warn').map(([d, r]) => warningMessage(d, r));
  const kept: string[] = [];
  let used = 0;
  for (const [i, w] of all.entries()) {
    const more = `sigward: ${all.length - i} more warning(s) not shown`;
    if (used + w.length + more.length > MAX_WARNINGS_TOTAL && i < all.length) {
      kept.push(more);
      break;
    }
    kept.push(w);
    used += w.length;
  }
  return kept;
}

function annotations(decisions: readonly ImageDecision[], decision: string): Record<string, string> {
  const notes = failures(decisions).map(([d, r]) => `${r.outcome}: ${failureMessage(d, r)}`);
  const text = notes.join('; ');
  return {
    [ANNOTATION_DECISION]: decision,
    ...(notes.length === 0 ? {} : { [ANNOTATION_FAILURES]: clip(text, MAX_ANNOTATION) }),
  };
}

/** The decision annotation of an answer with no failure, one frozen object per outcome. */
const PLAIN_ANNOTATIONS: Readonly<Record<'warn' | 'audit' | 'allow', Readonly<Record<string, string>>>> = {
  warn: Object.freeze({ [ANNOTATION_DECISION]: 'warn' }),
  audit: Object.freeze({ [ANNOTATION_DECISION]: 'audit' }),
  allow: Object.freeze({ [ANNOTATION_DECISION]: 'allow' }),
};

/** The reply for a checked request. An empty list is allowed (nothing to check). */
export function decisionResponse(uid: string, decisions: readonly ImageDecision[]): AdmissionResponse {
  // Nothing failed (the common answer, cached or not): no denial, warnings or failure notes to build.
  if (!anyFailure(decisions))
    return { uid, allowed: true, auditAnnotations: PLAIN_ANNOTATIONS[allowedOutcome(decisions)] };
  const denied = failures(decisions, 'deny');
  const warnings = warningsFor(decisions);
  const warn = warnings.length === 0 ? {} : { warnings };
  if (denied.length > 0) {
    const lines = denied.slice(0, MAX_DENIAL_LINES).map(([d, r]) => failureMessage(d, r));
    if (denied.length > MAX_DENIAL_LINES)
      lines.push(`and ${denied.length - MAX_DENIAL_LINES} more failure(s)`);
    return {
      uid,
      allowed: false,
      status: { code: 403, reason: 'Forbidden', message: lines.join('; ') },
      ...warn,
      auditAnnotations: annotations(decisions, 'deny'),
    };
  }
  return {
    uid,
    allowed: true,
    ...warn,
    auditAnnotations: annotations(decisions, allowedOutcome(decisions)),
  };
}

/** Whether any result failed with an outcome other than allow (loops: this runs on every review). */
function anyFailure(decisions: readonly ImageDecision[]): boolean {
  for (const d of decisions) for (const r of d.results) if (!r.passed && r.outcome !== 'allow') return true;
  return false;
}

function allowedOutcome(decisions: readonly ImageDecision[]): 'warn' | 'audit' | 'allow' {
  let audit = false;
  for (const d of decisions) {
    if (d.outcome === 'warn') return 'warn';
    if (d.outcome === 'audit') audit = true;
  }
  return audit ? 'audit' : 'allow';
}

export function skipResponse(uid: string, skip: Skip): AdmissionResponse {
  return {
    uid,
    allowed: true,
    auditAnnotations: { [ANNOTATION_SKIPPED]: `${skip.rule}: ${clip(skip.reason, 200)}` },
  };
}

/**
 * A request sigward could not check: a malformed review or object (code ADMISSION_*: 400), too many
 * images, or an internal failure (500). Denied, except with outcome 'warn' (then allowed with a
 * warning): never a silent allow.
 */
export function errorResponse(
  uid: string,
  error: unknown,
  outcome: 'deny' | 'warn' = 'deny',
): AdmissionResponse {
  const code = error instanceof SigwardError ? error.code : 'INTERNAL_ERROR';
  const words = error instanceof SigwardError ? error.message : 'internal error';
  const message = `sigward could not check this request: ${clip(words, 1024)} [${code}]`;
  if (outcome === 'warn')
    return {
      uid,
      allowed: true,
      warnings: [clip(message, WARNING_MAX)],
      auditAnnotations: { [ANNOTATION_DECISION]: 'error-allowed' },
    };
  const bad = code.startsWith('ADMISSION_');
  return {
    uid,
    allowed: false,
    status: { code: bad ? 400 : 500, reason: bad ? 'BadRequest' : 'InternalError', message },
    auditAnnotations: { [ANNOTATION_DECISION]: 'error-denied' },
  };
}
