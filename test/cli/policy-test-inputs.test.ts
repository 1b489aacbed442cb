// The inputs of `sigward policy test`, as the engine receives them: the shipped example test file
// parses, and manifests become the CREATE reviews the apiserver would send.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAdmissionReview } from '../../src/admission/review.ts';
import { readTestSuite, createReview, imageInput } from '../../src/cli/policy-test-inputs.ts';
import { readPolicies } from '../../src/cli/policy-test-engine.ts';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

test('examples/policy-tests/sigward-test.yaml parses, and its policies compile', () => {
  const suite = readTestSuite(join(REPO_ROOT, 'examples/policy-tests/sigward-test.yaml'));
  assert.equal(suite.name, 'sample-policies');
  assert.deepEqual(
    suite.cases.map((c) => [c.expect.decision, c.expect.reason ?? '']),
    [
      ['allow', 'VERIFIED'],
      ['deny', 'NO_POLICY'],
      ['skip', ''],
    ],
  );
  const snapshot = buildSnapshot(readPolicies(suite.policies));
  assert.deepEqual(
    snapshot.resources.map((r) => [r.name, r.errors]),
    [
      ['kubewarden-releases', []],
      ['provenance-from-main', []],
    ],
  );
});

test('an image and a CronJob become valid CREATE reviews with the namespace given', () => {
  const pod = parseAdmissionReview(imageInput('nginx:1', 'shop').review).request;
  assert.deepEqual(
    [pod.kind.kind, pod.resource.resource, pod.namespace, pod.operation],
    ['Pod', 'pods', 'shop', 'CREATE'],
  );
  const cron = parseAdmissionReview(
    createReview({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly' }, spec: {} }, 'ops'),
  ).request;
  assert.deepEqual(
    [cron.kind, cron.resource, cron.namespace, cron.name],
    [
      { group: 'batch', version: 'v1', kind: 'CronJob' },
      { group: 'batch', version: 'v1', resource: 'cronjobs' },
      'ops',
      'nightly',
    ],
  );
});
