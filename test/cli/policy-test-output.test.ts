// What `sigward policy test` reports is what the apiserver would do with the answer: a review that was
// not allowed is a denial whatever the engine's label says (a label added later, like error-deny, can
// never read as admitted and let CI pass).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitted, meets, outcomeOf } from '../../src/cli/policy-test-output.ts';

const result = (decision: string, allowed: boolean) => ({
  ok: true as const,
  review: {
    response: { uid: 'u', allowed, ...(allowed ? {} : { status: { message: 'no [REGISTRY_ERROR]' } }) },
  },
  decision,
  kind: 'Pod',
  mode: 'validate',
  operation: 'CREATE',
});

test('not allowed is deny, whatever the label; allowed keeps a known label, else allow', () => {
  const errorDeny = outcomeOf('image x', result('error-deny', false));
  assert.equal(errorDeny.decision, 'deny');
  assert.equal(admitted(errorDeny), false);
  assert.equal(errorDeny.message, 'no [REGISTRY_ERROR]');
  assert.equal(outcomeOf('image x', result('something-new', false)).decision, 'deny');
  assert.equal(outcomeOf('image x', result('warn', true)).decision, 'warn');
  assert.equal(outcomeOf('image x', result('pin', true)).decision, 'allow');
  assert.equal(admitted(outcomeOf('image x', result('error-allow', true))), true);
});

test('a body the engine cannot read is a denial; an expectation on nothing checked fails', () => {
  const unreadable = outcomeOf('review r.json', { ok: false, message: 'not an AdmissionReview' });
  assert.equal(unreadable.decision, 'deny');
  const service = outcomeOf('Service default/web', undefined, 'not a workload kind sigward checks');
  assert.equal(service.decision, 'not-checked');
  assert.deepEqual(meets([service], { decision: 'allow' }), {
    ok: false,
    why: 'nothing in the input is a workload sigward checks',
  });
});
