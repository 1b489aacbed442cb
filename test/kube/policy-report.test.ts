// The PolicyReport builder (kube/policy-report.ts), pure: results as Kyverno and Policy Reporter read
// them (policy, rule, result, message, resources, source, timestamp), the result per mode and reason,
// summary counts, stable order, and the cap on results (failures kept first, the rest counted).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageDecision, PolicyResult } from '../../src/policy/decision.ts';
import {
  MAX_RESULTS,
  OMITTED_ANNOTATION,
  buildPolicyReport,
  reportResultOf,
} from '../../src/kube/policy-report.ts';
import type { CheckedPod } from '../../src/kube/policy-report.ts';

const DIGEST = `sha256:${'1'.repeat(64)}`;
const at = new Date('2026-12-06T10:00:00.250Z');

const passed: PolicyResult = {
  policy: 'ci-key',
  mode: 'enforce',
  passed: true,
  reason: 'VERIFIED',
  outcome: 'allow',
  detail: 'verified by ci-key',
};
const mismatch = (mode: PolicyResult['mode']): PolicyResult => ({
  policy: 'release-signer',
  mode,
  passed: false,
  reason: 'IDENTITY_MISMATCH',
  outcome: mode === 'enforce' ? 'deny' : mode,
  authority: 'release-job',
  expected: 'subject "https://ci/release"',
  found: 'subject "https://ci/nightly"',
  detail: '',
});

function checked(name: string, results: PolicyResult[], owner?: { kind: string; name: string }): CheckedPod {
  const decision: ImageDecision = {
    field: 'spec.containers[0].image',
    image: 'registry.example/apps/api:1.2',
    digest: DIGEST,
    outcome: 'allow',
    results,
  };
  return {
    pod: { namespace: 'team-a', name, uid: `uid-${name}`, ...(owner === undefined ? {} : { owner }) },
    decisions: [decision],
    checkedAt: at,
  };
}

test('one wgpolicyk8s.io/v1alpha2 PolicyReport per namespace, owned by sigward, with a result per Pod and policy', () => {
  const report = buildPolicyReport('team-a', [
    checked('web-b', [passed]),
    checked('web-a', [passed, mismatch('enforce')], { kind: 'ReplicaSet', name: 'web-5d8' }),
  ]);
  assert.equal(report.apiVersion, 'wgpolicyk8s.io/v1alpha2');
  assert.equal(report.kind, 'PolicyReport');
  assert.deepEqual(report.metadata, {
    name: 'sigward-image-verification',
    namespace: 'team-a',
    labels: { 'app.kubernetes.io/managed-by': 'sigward' },
  });
  assert.deepEqual(report.scope, { apiVersion: 'v1', kind: 'Namespace', name: 'team-a' });
  assert.deepEqual(report.summary, { pass: 2, fail: 1, warn: 0, error: 0, skip: 0 });
  assert.deepEqual(
    report.results.map((r) => [r.resources[0]?.name, r.policy, r.rule, r.result]),
    [
      ['web-a', 'ci-key', 'verify-image', 'pass'],
      ['web-a', 'release-signer', 'release-job', 'fail'],
      ['web-b', 'ci-key', 'verify-image', 'pass'],
    ],
  );
  const fail = report.results[1]!;
  assert.equal(fail.source, 'sigward');
  assert.equal(fail.severity, 'high');
  assert.equal(
    fail.message,
    `image registry.example/apps/api:1.2 (digest ${DIGEST}) in spec.containers[0].image: policy release-signer, authority release-job: expected subject "https://ci/release", found subject "https://ci/nightly" [IDENTITY_MISMATCH]`,
  );
  assert.deepEqual(fail.resources, [
    { apiVersion: 'v1', kind: 'Pod', namespace: 'team-a', name: 'web-a', uid: 'uid-web-a' },
  ]);
  assert.deepEqual(fail.timestamp, { seconds: Math.floor(at.getTime() / 1000), nanos: 250_000_000 });
  assert.deepEqual(fail.properties, {
    image: 'registry.example/apps/api:1.2',
    field: 'spec.containers[0].image',
    reason: 'IDENTITY_MISMATCH',
    mode: 'enforce',
    digest: DIGEST,
    controller: 'ReplicaSet/web-5d8',
  });
  assert.equal(report.results[0]!.severity, undefined, 'a pass has no severity');
  assert.match(report.results[0]!.message, /: verified by ci-key \[VERIFIED\]$/);
});

test('result per mode and reason: enforce and audit fail, warn warns, unknown is error, pass passes', () => {
  assert.equal(reportResultOf(passed), 'pass');
  assert.equal(reportResultOf(mismatch('enforce')), 'fail');
  assert.equal(reportResultOf(mismatch('audit')), 'fail');
  assert.equal(reportResultOf(mismatch('warn')), 'warn');
  for (const reason of [
    'REGISTRY_ERROR',
    'REGISTRY_AUTH',
    'TIMEOUT',
    'TRUST_ROOT_ERROR',
    'INTERNAL_ERROR',
  ] as const)
    assert.equal(reportResultOf({ ...mismatch('enforce'), reason }), 'error', reason);
  const report = buildPolicyReport('team-a', [
    checked('a', [mismatch('warn')]),
    checked('b', [mismatch('audit')]),
    checked('c', [{ ...mismatch('enforce'), reason: 'REGISTRY_ERROR' }]),
  ]);
  assert.deepEqual(report.summary, { pass: 0, fail: 1, warn: 1, error: 1, skip: 0 });
  assert.deepEqual(
    report.results.map((r) => r.severity),
    ['medium', 'low', 'high'],
  );
});

test('no policy matched: the result names no-matching-policy and says what the setting decided', () => {
  const unmatched: PolicyResult = {
    mode: 'enforce',
    passed: false,
    reason: 'NO_POLICY',
    outcome: 'deny',
    detail: 'no image policy matches registry.example/apps/api (unmatched images: deny)',
  };
  const [result] = buildPolicyReport('team-a', [checked('a', [unmatched])]).results;
  assert.equal(result?.policy, 'no-matching-policy');
  assert.equal(result?.result, 'fail');
  assert.match(
    result?.message ?? '',
    /no image policy matches registry.example\/apps\/api \(unmatched images: deny\) \[NO_POLICY\]$/,
  );
});

test('hostile text is clipped and cleaned; the report holds at most MAX_RESULTS results, failures first', () => {
  const long = buildPolicyReport('team-a', [
    checked('a', [{ ...mismatch('enforce'), found: `x\u0000${'y'.repeat(5000)}` }]),
  ]);
  assert.ok(long.results[0]!.message.length <= 1024);
  assert.ok(!long.results[0]!.message.includes('\u0000'));

  const pods = Array.from({ length: MAX_RESULTS + 10 }, (_, i) =>
    checked(`p${String(i).padStart(5, '0')}`, [i === MAX_RESULTS + 5 ? mismatch('enforce') : passed]),
  );
  const report = buildPolicyReport('team-a', pods);
  assert.equal(report.results.length, MAX_RESULTS);
  assert.equal(report.results[0]!.result, 'fail', 'the one failure is kept, first');
  assert.deepEqual(report.summary, { pass: MAX_RESULTS + 9, fail: 1, warn: 0, error: 0, skip: 0 });
  assert.equal(report.metadata.annotations?.[OMITTED_ANNOTATION], '10');
  assert.equal(buildPolicyReport('team-a', pods.slice(0, 3)).metadata.annotations, undefined);
});

test('no Pod: an empty report (the writer deletes it)', () => {
  const report = buildPolicyReport('team-a', []);
  assert.deepEqual(report.results, []);
  assert.deepEqual(report.summary, { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 });
});

test('no policy matched and unmatched images are allowed: skip, not pass (nothing was checked)', () => {
  const allowed: PolicyResult = {
    mode: 'audit',
    passed: true,
    reason: 'NO_POLICY',
    outcome: 'allow',
    detail: 'no image policy matches registry.example/apps/api (unmatched images: allow)',
  };
  assert.equal(reportResultOf(allowed), 'skip');
  const report = buildPolicyReport('team-a', [checked('a', [allowed]), checked('b', [passed])]);
  assert.deepEqual(report.summary, { pass: 1, fail: 0, warn: 0, error: 0, skip: 1 });
  const [skipped] = report.results;
  assert.equal(skipped?.policy, 'no-matching-policy');
  assert.equal(skipped?.severity, undefined);
  assert.match(skipped?.message ?? '', /no policy matches; unmatched images are allowed \[NO_POLICY\]$/);
});
