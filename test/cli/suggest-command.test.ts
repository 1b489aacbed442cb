// An unknown `sigward X` names the command most likely meant, and nothing when none is near.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { suggestCommand } from '../../src/cli/suggest-command.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

test('policy-tester habits, hyphens and typos lead to the command; nonsense leads nowhere', () => {
  for (const [typed, meant] of [
    ['policy-test', 'policy test'],
    ['policy_test', 'policy test'],
    ['policytest', 'policy test'],
    ['test', 'policy test'],
    ['verfy', 'verify'],
    ['Verify', 'verify'],
    ['verify-attestations', 'verify-attestation'],
    ['webhok', 'webhook'],
  ] as const)
    assert.equal(suggestCommand(typed), meant, typed);
  for (const typed of ['', 'foo', 'sign-image', 'kubectl'])
    assert.equal(suggestCommand(typed), undefined, typed);
});

test('`sigward policy-test` says what to type instead, exit 2', () => {
  const r = spawnSync(join(REPO_ROOT, 'bin/sigward'), ['policy-test', 'tests/'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(
    r.stderr,
    /^sigward: unknown command "policy-test" \(did you mean `sigward policy test`\?\)\n/,
  );
});
