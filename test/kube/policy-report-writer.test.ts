// The PolicyReport writer (kube/policy-report-writer.ts) against a stand-in of the policyreports
// endpoints (./policy-reports-api.ts; the real apiserver and CRD: e2e/policy-reports.e2e.ts): created
// when absent, replaced with its resourceVersion, not written again when nothing changed, a result keeps
// the time it was first found, deleted when empty, another owner's report of the same name never touched,
// and the namespaces holding sigward reports listed by label.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SigwardError } from '../../src/errors.ts';
import { buildPolicyReport } from '../../src/kube/policy-report.ts';
import type { CheckedPod } from '../../src/kube/policy-report.ts';
import { PolicyReportWriter } from '../../src/kube/policy-report-writer.ts';
import type { PolicyResult } from '../../src/policy/decision.ts';
import { policyReportsApi } from './policy-reports-api.ts';

const NAME = 'sigward-image-verification';
const pass: PolicyResult = {
  policy: 'ci',
  mode: 'enforce',
  passed: true,
  reason: 'VERIFIED',
  outcome: 'allow',
  detail: 'verified by ci',
};
const fail: PolicyResult = {
  ...pass,
  passed: false,
  reason: 'SIGNATURE_MISSING',
  outcome: 'deny',
  detail: 'no signatures found',
};

const pod = (name: string, result: PolicyResult, seconds: number): CheckedPod => ({
  pod: { namespace: 'apps', name, uid: `uid-${name}` },
  decisions: [
    { field: 'spec.containers[0].image', image: 'r.example/apps/web:1', outcome: 'allow', results: [result] },
  ],
  checkedAt: new Date(seconds * 1000),
});
type StoredReport = {
  results: Array<{ result: string; timestamp: { seconds: number } }>;
  metadata: { resourceVersion: string };
};

test('created, replaced with its resourceVersion, skipped when unchanged, first-found times kept, deleted when empty', async () => {
  const stand = policyReportsApi();
  const writer = new PolicyReportWriter(stand.api);
  await writer.write(buildPolicyReport('apps', [pod('web', pass, 1000)]));
  assert.deepEqual(stand.calls, [`get apps/${NAME}`, `create apps/${NAME}`]);

  // The same results found again later: no write at all.
  await writer.write(buildPolicyReport('apps', [pod('web', pass, 2000)]));
  assert.equal(stand.calls.length, 2);

  // A second Pod: replaced; the first Pod's result keeps the time it was first found.
  await writer.write(buildPolicyReport('apps', [pod('web', pass, 3000), pod('api', fail, 3000)]));
  assert.deepEqual(stand.calls.slice(2), [`get apps/${NAME}`, `replace apps/${NAME}`]);
  const stored = stand.objects.get(`apps/${NAME}`) as unknown as StoredReport;
  assert.deepEqual(
    stored.results.map((r) => [r.result, r.timestamp.seconds]),
    [
      ['fail', 3000],
      ['pass', 1000],
    ],
  );

  // A new leader (nothing remembered) writes the same report again once, still keeping the times.
  writer.reset();
  await writer.write(buildPolicyReport('apps', [pod('web', pass, 4000), pod('api', fail, 4000)]));
  const again = stand.objects.get(`apps/${NAME}`) as unknown as StoredReport;
  assert.deepEqual(
    again.results.map((r) => r.timestamp.seconds),
    [3000, 1000],
  );

  await writer.write(buildPolicyReport('apps', []));
  assert.equal(stand.calls.at(-1), `delete apps/${NAME}`);
  assert.equal(stand.objects.size, 0);
  const calls = stand.calls.length;
  await writer.write(buildPolicyReport('other', []));
  assert.deepEqual(stand.calls.slice(calls), [`get other/${NAME}`], 'nothing to delete: only looked');
});

test('a report of that name without sigward’s label is left alone, with a clear error', async () => {
  const stand = policyReportsApi();
  stand.put({
    metadata: { name: NAME, namespace: 'apps', labels: { 'app.kubernetes.io/managed-by': 'kyverno' } },
  });
  const writer = new PolicyReportWriter(stand.api);
  await assert.rejects(
    writer.write(buildPolicyReport('apps', [pod('web', fail, 1)])),
    (e: unknown) =>
      e instanceof SigwardError &&
      e.code === 'KUBE_REPORT_NOT_OURS' &&
      e.message ===
        `PolicyReport apps/${NAME} exists without the label app.kubernetes.io/managed-by=sigward: left alone`,
  );
  await assert.rejects(writer.write(buildPolicyReport('apps', [])), /left alone/);
  assert.equal(stand.objects.size, 1);
  assert.deepEqual(stand.calls, [`get apps/${NAME}`, `get apps/${NAME}`]);
});

test('managedNamespaces: the namespaces holding sigward’s report, by label and name', async () => {
  const stand = policyReportsApi();
  const label = { 'app.kubernetes.io/managed-by': 'sigward' };
  stand.put({ metadata: { name: NAME, namespace: 'a', labels: label } });
  stand.put({ metadata: { name: 'other-name', namespace: 'b', labels: label } });
  stand.put({
    metadata: { name: NAME, namespace: 'c', labels: { 'app.kubernetes.io/managed-by': 'kyverno' } },
  });
  assert.deepEqual(await new PolicyReportWriter(stand.api).managedNamespaces(), ['a']);
  assert.deepEqual(stand.calls, ['list app.kubernetes.io/managed-by=sigward']);
});
