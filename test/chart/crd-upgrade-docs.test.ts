// The CRD upgrade every admin runs before `helm upgrade`: Helm created the CRDs and owns their fields,
// so a server-side apply without --force-conflicts fails with `conflict with "helm": .spec.versions`
// (e2e/chart.e2e.ts runs it against a real apiserver over CRDs Helm created). Every place that tells
// the admin the command must spell it the way that works.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../sigstore/ext.ts';

const WORKS = 'kubectl apply --server-side --force-conflicts -f charts/sigward/crds/';

test('README, the chart README and the install NOTES give the CRD upgrade that works over Helm-created CRDs', () => {
  for (const file of ['README.md', 'charts/sigward/README.md', 'charts/sigward/templates/NOTES.txt']) {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    assert.ok(text.includes(WORKS), `${file} says: ${WORKS}`);
    const applies = [...text.matchAll(/kubectl apply [^\n`]*charts\/sigward\/crds\//g)].map((m) => m[0]);
    assert.deepEqual(
      applies.filter((command) => command !== WORKS.replace(/\/$/, '') && command !== WORKS),
      [],
      `${file}: every CRD apply carries --server-side --force-conflicts`,
    );
  }
});
