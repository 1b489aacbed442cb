// What `sigward policy test` reports: per input the decision the webhook would give, per image the
// result of every policy with its reason code and the exact denial text kubectl would show; and, for a
// test-case file, whether each case got what it expected.
import type { ReviewResult, SiteDecision } from '../engine/index.ts';
import { failureMessage } from '../policy/decision.ts';
import type { Expectation } from './policy-test-inputs.ts';

export type Decision = 'allow' | 'deny' | 'warn' | 'audit' | 'skip' | 'error-allow' | 'not-checked';
/** Labels of the engine kept as they are when the review was allowed. */
const ADMITTED_LABELS = ['allow', 'warn', 'audit', 'skip', 'error-allow'] as const;

export interface PolicyOutcome {
  readonly policy?: string;
  readonly mode: string;
  readonly passed: boolean;
  readonly reason: string;
  /** The failure sentence (as in the denial), or `verified`. */
  readonly text: string;
}

export interface ImageOutcome {
  readonly field: string;
  readonly image: string;
  readonly digest?: string;
  readonly outcome: string;
  readonly results: readonly PolicyOutcome[];
}

export interface InputOutcome {
  readonly input: string;
  readonly decision: Decision;
  /** The denial message, the kubectl warnings, or why it was skipped / not checked. */
  readonly message?: string;
  readonly images: readonly ImageOutcome[];
}

interface ReviewEnvelope {
  readonly response?: {
    readonly allowed?: boolean;
    readonly status?: { readonly message?: string };
    readonly warnings?: readonly string[];
    readonly auditAnnotations?: Readonly<Record<string, string>>;
  };
}

function imageOutcome(d: SiteDecision): ImageOutcome {
  return {
    field: d.field,
    image: d.image,
    ...(d.digest === undefined ? {} : { digest: d.digest }),
    outcome: d.outcome,
    results: d.results.map((r) => ({
      ...(r.policy === undefined ? {} : { policy: r.policy }),
      mode: r.mode,
      passed: r.passed,
      reason: r.reason,
      text: r.passed ? 'verified' : failureMessage(d, r),
    })),
  };
}

/** The engine's answer for one input, in the words of the output. */
export function outcomeOf(input: string, result: ReviewResult | undefined, note?: string): InputOutcome {
  if (result === undefined)
    return { input, decision: 'not-checked', ...(note === undefined ? {} : { message: note }), images: [] };
  if (!result.ok) return { input, decision: 'deny', message: result.message, images: [] };
  const response = (result.review as ReviewEnvelope).response ?? {};
  const images = (result.decisions ?? []).map(imageOutcome);
  // The answer the apiserver acts on decides, not the engine's label (whose vocabulary may grow, e.g.
  // error-deny): anything not allowed is `deny`, so no new label can ever read as admitted.
  const label = result.decision;
  const decision: Decision =
    response.allowed !== true
      ? 'deny'
      : (ADMITTED_LABELS as readonly string[]).includes(label)
        ? (label as Decision)
        : 'allow';
  const message =
    response.status?.message ??
    (response.warnings !== undefined && response.warnings.length > 0
      ? response.warnings.join('\n')
      : undefined) ??
    (decision === 'skip' ? Object.values(response.auditAnnotations ?? {}).join('; ') : undefined);
  return { input, decision, ...(message === undefined ? {} : { message }), images };
}

/** Whether the outcomes of one test case meet its expectation; the reason when they do not. */
export function meets(outcomes: readonly InputOutcome[], expect: Expectation): { ok: boolean; why?: string } {
  // Documents the webhook never sees (a Service beside a Deployment) are not part of the expectation.
  const judged = outcomes.filter((o) => o.decision !== 'not-checked');
  if (judged.length === 0) return { ok: false, why: 'nothing in the input is a workload sigward checks' };
  for (const o of judged) {
    const reasons = new Set(o.images.flatMap((i) => i.results.map((r) => r.reason)));
    const got = `${o.decision}${reasons.size === 0 ? '' : ` (${[...reasons].join(', ')})`}`;
    if (o.decision !== expect.decision)
      return { ok: false, why: `${o.input}: expected ${expect.decision}, got ${got}` };
    if (expect.reason !== undefined && !reasons.has(expect.reason))
      return { ok: false, why: `${o.input}: expected reason ${expect.reason}, got ${got}` };
    if (expect.message !== undefined) {
      const text = [o.message ?? '', ...o.images.flatMap((i) => i.results.map((r) => r.text))].join('\n');
      if (!text.includes(expect.message))
        return {
          ok: false,
          why: `${o.input}: expected a message containing ${JSON.stringify(expect.message)}, got ${JSON.stringify(o.message ?? '')}`,
        };
    }
  }
  return { ok: true };
}

/** Whether the webhook would let it in (allow, warn, audit, skip, not checked). */
export const admitted = (o: InputOutcome): boolean => o.decision !== 'deny';

export function renderOutcome(o: InputOutcome): string {
  const lines = [`${o.decision.toUpperCase().padEnd(5)} ${o.input}`];
  for (const image of o.images) {
    lines.push(
      `      ${image.field}: ${image.image}${image.digest === undefined || image.image.includes(image.digest) ? '' : ` (${image.digest})`}: ${image.outcome}`,
    );
    for (const r of image.results)
      lines.push(
        r.passed
          ? `        ok   policy ${r.policy ?? '(none)'}: ${r.reason}`
          : `        ${r.mode === 'enforce' ? 'FAIL' : r.mode} ${r.text}`,
      );
  }
  if (o.images.length === 0 && o.message !== undefined) lines.push(`      ${o.message}`);
  return `${lines.join('\n')}\n`;
}
