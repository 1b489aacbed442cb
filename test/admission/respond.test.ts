// Decisions → AdmissionResponse: denied with one sentence per failed field; warn → allowed with
// kubectl warnings inside the API server's limits; audit → allowed with annotations; bad input and
// internal errors → a clear refusal (or, when so configured, an allowed response that says so).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import { decisionResponse, errorResponse, skipResponse } from '../../src/admission/respond.ts';
import type { ImageDecision, PolicyResult } from '../../src/policy/decision.ts';

const DIGEST = `sha256:${'e'.repeat(64)}`;
const fail = (outcome: PolicyResult['outcome'], extra: Partial<PolicyResult> = {}): PolicyResult => ({
  policy: 'signed-by-ci-job',
  mode: outcome === 'deny' ? 'enforce' : outcome === 'warn' ? 'warn' : 'audit',
  passed: false,
  reason: 'SIGNATURE_MISSING',
  outcome,
  authority: 'keyless-signing-job',
  detail: 'no signatures found',
  ...extra,
});
const pass: PolicyResult = {
  policy: 'other',
  mode: 'enforce',
  passed: true,
  reason: 'VERIFIED',
  outcome: 'allow',
  detail: 'verified by ci',
};
const decision = (
  field: string,
  image: string,
  results: PolicyResult[],
  digest: string | undefined = DIGEST,
): ImageDecision => ({
  field,
  image,
  ...(digest === undefined ? {} : { digest }),
  outcome: results.some((r) => r.outcome === 'deny')
    ? 'deny'
    : results.some((r) => r.outcome === 'warn')
      ? 'warn'
      : results.some((r) => r.outcome === 'audit')
        ? 'audit'
        : 'allow',
  results,
});

test('all verified: allowed, nothing to say but the decision', () => {
  assert.deepEqual(decisionResponse('u1', [decision('spec.containers[0].image', 'a:1', [pass])]), {
    uid: 'u1',
    allowed: true,
    auditAnnotations: { decision: 'allow' },
  });
  assert.deepEqual(decisionResponse('u0', []), {
    uid: 'u0',
    allowed: true,
    auditAnnotations: { decision: 'allow' },
  });
});

test('enforce failure: denied, 403, one sentence per failed field, warnings of warn policies kept', () => {
  const r = decisionResponse('u2', [
    decision('spec.initContainers[0].image', 'registry.example.com/apps/migrate:2.0', [fail('deny'), pass]),
    decision('spec.containers[0].image', 'registry.example.com/apps/web:3.1', [pass]),
    decision(
      'spec.containers[1].image',
      'prom/statsd-exporter:v0.26.0',
      [fail('warn', { policy: 'third-party', authority: 'vendor' })],
      undefined,
    ),
  ]);
  assert.equal(r.allowed, false);
  assert.equal(r.status?.code, 403);
  assert.equal(r.status?.reason, 'Forbidden');
  assert.equal(
    r.status?.message,
    `image registry.example.com/apps/migrate:2.0 (digest ${DIGEST}) in spec.initContainers[0].image: policy signed-by-ci-job, authority keyless-signing-job: no signatures found [SIGNATURE_MISSING]`,
  );
  assert.deepEqual(r.warnings, [
    'image prom/statsd-exporter:v0.26.0 in spec.containers[1].image: policy third-party (warn): no signatures found [SIGNATURE_MISSING]',
  ]);
  assert.equal(r.auditAnnotations?.['decision'], 'deny');
  assert.match(
    r.auditAnnotations?.['failures'] ?? '',
    /^deny: image registry\.example\.com\/apps\/migrate:2\.0 .*; warn: image prom\/statsd-exporter/,
  );
});

test('two denied fields: both sentences, joined', () => {
  const r = decisionResponse('u3', [
    decision('spec.containers[0].image', 'a:1', [fail('deny')]),
    decision('spec.containers[1].image', 'b:1', [
      fail('deny', { reason: 'REGISTRY_AUTH', detail: 'registry said 401', authority: undefined }),
    ]),
  ]);
  assert.equal(
    r.status?.message,
    `image a:1 (digest ${DIGEST}) in spec.containers[0].image: policy signed-by-ci-job, authority keyless-signing-job: no signatures found [SIGNATURE_MISSING]; ` +
      `image b:1 (digest ${DIGEST}) in spec.containers[1].image: policy signed-by-ci-job: registry said 401 [REGISTRY_AUTH]`,
  );
});

test('warn only: allowed, with one short warning per failure', () => {
  const r = decisionResponse('u4', [decision('spec.containers[0].image', 'a:1', [fail('warn'), pass])]);
  assert.equal(r.allowed, true);
  assert.equal(r.status, undefined);
  assert.deepEqual(r.warnings, [
    'image a:1 in spec.containers[0].image: policy signed-by-ci-job (warn): no signatures found [SIGNATURE_MISSING]',
  ]);
  assert.equal(r.auditAnnotations?.['decision'], 'warn');
});

test('audit only: allowed, silent for kubectl, recorded in audit annotations', () => {
  const r = decisionResponse('u5', [decision('spec.containers[0].image', 'a:1', [fail('audit')])]);
  assert.equal(r.allowed, true);
  assert.equal(r.warnings, undefined);
  assert.equal(r.auditAnnotations?.['decision'], 'audit');
  assert.match(r.auditAnnotations?.['failures'] ?? '', /^audit: image a:1 .* \[SIGNATURE_MISSING\]$/);
});

test('a huge request stays within limits: 10 sentences, warnings under 4096 characters, annotations bounded', () => {
  const many = Array.from({ length: 250 }, (_, i) =>
    decision(`spec.containers[${i}].image`, `registry.example.com/apps/app-${i}:1`, [
      fail('deny'),
      fail('warn', { policy: 'w'.repeat(300) }),
    ]),
  );
  const r = decisionResponse('u6', many);
  const sentences = (r.status?.message ?? '').split('; ');
  assert.equal(sentences.length, 11);
  assert.equal(sentences[10], 'and 240 more failure(s)');
  assert.ok((r.status?.message ?? '').length < 10_000);
  const warnings = r.warnings ?? [];
  assert.ok(warnings.every((w) => w.length <= 256));
  assert.ok(warnings.join('').length <= 4096, `${warnings.join('').length}`);
  assert.match(warnings.at(-1) ?? '', /^sigward: \d+ more warning\(s\) not shown$/);
  assert.ok((r.auditAnnotations?.['failures'] ?? '').length <= 4096);
});

test('skipResponse: allowed, the rule recorded', () => {
  assert.deepEqual(skipResponse('u7', { rule: 'no-image-change', reason: 'the update changes no image' }), {
    uid: 'u7',
    allowed: true,
    auditAnnotations: { skipped: 'no-image-change: the update changes no image' },
  });
});

test('errorResponse: bad input is a 400 with the code, an internal failure a 500 without its details', () => {
  const bad = errorResponse(
    'u8',
    new SigwardError('ADMISSION_REVIEW_INVALID', 'malformed AdmissionReview: request.uid: is required'),
  );
  assert.deepEqual(bad, {
    uid: 'u8',
    allowed: false,
    status: {
      code: 400,
      reason: 'BadRequest',
      message:
        'sigward could not check this request: malformed AdmissionReview: request.uid: is required [ADMISSION_REVIEW_INVALID]',
    },
    auditAnnotations: { decision: 'error-denied' },
  });
  const tooMany = errorResponse(
    'u9',
    new SigwardError('ADMISSION_TOO_MANY_IMAGES', 'spec: 10000 containers, more than the 256 sigward checks'),
  );
  assert.equal(tooMany.allowed, false);
  assert.equal(tooMany.status?.code, 400);
  const bug = errorResponse(
    'u10',
    new TypeError("Cannot read properties of undefined (reading 'secret-token')"),
  );
  assert.equal(bug.status?.code, 500);
  assert.equal(bug.status?.message, 'sigward could not check this request: internal error [INTERNAL_ERROR]');
  const warned = errorResponse('u11', new SigwardError('REGISTRY_TIMEOUT', 'x'.repeat(2000)), 'warn');
  assert.equal(warned.allowed, true);
  assert.ok((warned.warnings?.[0] ?? '').length <= 256);
  assert.equal(warned.auditAnnotations?.['decision'], 'error-allowed');
});
