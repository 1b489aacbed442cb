// The inputs of `sigward policy test`, as the engine receives them: the shipped example test file
// parses, and manifests become the CREATE reviews the apiserver would send.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAdmissionReview } from '../../src/admission/review.ts';
import { readDocuments, readTestSuite, createReview, imageInput } from '../../src/cli/policy-test-inputs.ts';
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

test('a test file with an unknown field is refused naming it and the field it most likely meant', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'sigward-suite-'));
  const write = (body: string): string => {
    const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      path,
      `apiVersion: cli.sigward.dev/v1alpha1\nkind: PolicyTest\npolicies: [p.yaml]\n${body}`,
    );
    return path;
  };
  const top = write('polices: [q.yaml]\ntests: [{image: x, expect: {decision: allow}}]\n');
  assert.throws(() => readTestSuite(top), {
    code: 'INPUT_INVALID',
    message: `${top}.polices: unknown field (did you mean \`policies\`?)`,
  });
  const inCase = write('tests: [{image: x, expected: {decision: allow}}]\n');
  assert.throws(() => readTestSuite(inCase), {
    code: 'INPUT_INVALID',
    message: `${inCase}: tests[0].expected: unknown field (did you mean \`expect\`?)`,
  });
  const unlike = write('tests: [{image: x, expect: {decision: allow}, zzzzzzzz: 1}]\n');
  assert.throws(() => readTestSuite(unlike), {
    message:
      /tests\[0\]\.zzzzzzzz: unknown field \(known fields: name, image, resource, review, namespace, expect\)$/,
  });
});

test("a manifest that does not parse is named with the parser's reason and place, never the line it quotes", async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  // A Secret beside the workloads (a chart's output, a kustomize directory): the YAML parser's message
  // quotes the offending line, here the password.
  const path = join(mkdtempSync(join(tmpdir(), 'sigward-inputs-')), 'secret.yaml');
  writeFileSync(path, 'apiVersion: v1\nkind: Secret\nstringData:\n  password: hunter2-s3cret: x\n');
  assert.throws(
    () => readDocuments(path),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, 'INPUT_INVALID');
      assert.match(error.message, /at line 4, column \d+$/);
      assert.ok(!error.message.includes('hunter2-s3cret'), error.message);
      return true;
    },
  );
});
