// `sigward webhook --policies DIR` with policy-controller's own example files in DIR: they are read
// as-is, and every field sigward cannot honour is logged at load with its field path, under the
// resource's full kind (ClusterImagePolicy.policy.sigstore.dev), never written to its status.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../sigstore/ext.ts';
import { policyLoadLog } from './webhook-process.ts';

test('--policies DIR: policy-controller findings are logged at load with their field paths', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-pc-policies-'));
  for (const name of ['cip-keyless-with-attestations.yaml', 'release-signed-by-github-actions.yaml'])
    copyFileSync(join(REPO_ROOT, 'test/fixtures/policy-controller', name), join(dir, name));
  const { records, stdout } = await policyLoadLog(dir);
  const about = (name: string) =>
    records
      .filter((r) => r.resource === `ClusterImagePolicy.policy.sigstore.dev/${name}`)
      .map((r) => [r.level, r.field]);
  assert.deepEqual(
    about('image-policy-keyless-with-attestations').filter(([level]) => level === 50),
    [
      [50, 'spec.authorities[0].attestations[0].policy'],
      [50, 'spec.authorities[0].ctlog.url'],
      [50, 'spec.authorities[0].keyless.url'],
    ],
    stdout,
  );
  assert.deepEqual(about('image-is-signed-by-github-actions'), [[40, 'spec.images[0].glob']], stdout);
  const loaded = records.find((r) => r.msg === 'policy snapshot updated') as unknown as {
    policies: number;
    invalid: string[];
  };
  assert.equal(loaded.policies, 2);
  assert.deepEqual(loaded.invalid, [
    'ClusterImagePolicy.policy.sigstore.dev/image-policy-keyless-with-attestations',
  ]);
});
