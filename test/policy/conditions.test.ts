// CEL conditions of attestation requirements: compile-time syntax and type errors, evaluation over a
// SLSA v1 provenance, the values a false condition saw, and hostile predicates (huge, deep, long
// strings, catastrophic regular expressions) that must end as bounded errors, never hang or crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CONDITION_LIMITS, compileCondition } from '../../src/policy/conditions.ts';
import type { CompiledCondition, ConditionInput } from '../../src/policy/conditions.ts';

const DIGEST = 'a'.repeat(64);
const provenance = {
  buildDefinition: {
    buildType: 'https://actions.github.io/buildtypes/workflow/v1',
    externalParameters: { workflow: { ref: 'refs/heads/main', repository: 'https://github.com/acme/app' } },
  },
  runDetails: {
    builder: { id: 'https://github.com/actions/runner' },
    metadata: { finishedOn: '2026-12-01T10:00:00Z' },
  },
};
const input = (predicate: unknown = provenance, now = new Date('2026-12-03T10:00:00Z')): ConditionInput => ({
  predicate,
  predicateType: 'https://slsa.dev/provenance/v1',
  subject: [{ name: 'app', digest: { sha256: DIGEST } }],
  signer: {
    issuer: 'https://token.actions.githubusercontent.com',
    subject: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
    extensions: { sourceRepositoryRef: 'refs/heads/main' },
  },
  now,
});

function compiled(expression: string): CompiledCondition {
  const c = compileCondition(expression);
  assert.ok(typeof c !== 'string', `expected ${expression} to compile: ${String(c)}`);
  return c;
}

test('a condition over the provenance, the subject, the signer and now holds when true', () => {
  for (const e of [
    'predicate.buildDefinition.externalParameters.workflow.ref == "refs/heads/main"',
    'predicate.runDetails.builder.id.startsWith("https://github.com/")',
    'subject.exists(s, s.digest.sha256 == "' + DIGEST + '")',
    'signer.extensions.sourceRepositoryRef == "refs/heads/main" && signer.issuer.endsWith("githubusercontent.com")',
    'now - timestamp(predicate.runDetails.metadata.finishedOn) < duration("168h")',
    'predicateType == "https://slsa.dev/provenance/v1"',
    'predicate.buildDefinition.externalParameters.workflow.repository.matches("^https://github.com/acme/")',
    'has(predicate.runDetails.builder) && !has(predicate.runDetails.byproducts)',
  ]) {
    assert.deepEqual(compiled(e).evaluate(input()), { holds: true }, e);
  }
});

test('a false condition says so with the values it read', () => {
  const c = compiled('predicate.buildDefinition.externalParameters.workflow.ref == "refs/heads/main"');
  const dev = structuredClone(provenance);
  dev.buildDefinition.externalParameters.workflow.ref = 'refs/heads/dev';
  const r = c.evaluate(input(dev));
  assert.equal(r.holds, false);
  assert.ok(!r.holds);
  assert.equal(r.error, false);
  assert.equal(
    r.message,
    'is false; it saw predicate.buildDefinition.externalParameters.workflow.ref = "refs/heads/dev"',
  );
});

test('time matters: usesNow is set, and a stale provenance fails the freshness condition', () => {
  const c = compiled('now - timestamp(predicate.runDetails.metadata.finishedOn) < duration("24h")');
  assert.equal(c.usesNow, true);
  assert.equal(compiled('predicate.x == 1.0').usesNow, false);
  assert.equal(c.evaluate(input(provenance, new Date('2026-12-01T12:00:00Z'))).holds, true);
  const late = c.evaluate(input(provenance, new Date('2026-12-09T12:00:00Z')));
  assert.ok(!late.holds);
  assert.match(
    late.message,
    /^is false; it saw now = 2026-12-09T12:00:00\.000Z, predicate\.runDetails\.metadata\.finishedOn = "2026-12-01T10:00:00Z"$/,
  );
});

test('syntax errors, unknown variables, type errors and non-bool results fail at compile time', () => {
  const cases: [string, RegExp][] = [
    ['predicate.x ==', /^does not compile: /],
    ['predicat.buildType == "x"', /^does not compile: Unknown variable: predicat/],
    ['now > 5', /^does not compile: no such overload: google\.protobuf\.Timestamp > int/],
    ['signer.issuer == 1', /^does not compile: /],
    ['size(predicate.materials) > 1 && 1', /^does not compile: Logical operator requires bool/],
    ['nosuch(predicate)', /^does not compile: found no matching overload for 'nosuch/],
    ['predicate.x + 1.0', /^does not compile: |^must be a bool expression/],
    ['"a" + "b"', /^must be a bool expression, but it is of type string$/],
    ['('.repeat(40) + 'true' + ')'.repeat(40), /^does not compile: Exceeded maxDepth/],
    [
      'true || '.repeat(700) + 'true',
      /^must be at most 4096 characters$|^does not compile: Exceeded maxAstNodes/,
    ],
  ];
  for (const [e, expected] of cases) {
    const c = compileCondition(e);
    assert.equal(typeof c, 'string', `${e.slice(0, 40)} should not compile`);
    assert.match(c as string, expected, e.slice(0, 40));
  }
});

test('a function the checker knows but the evaluator lacks is refused at compile time', () => {
  // cel-js type-checks bytes.hex(); @bufbuild/cel, which evaluates, has no such function.
  const c = compileCondition('b"ab".hex() == "6162"');
  assert.match(String(c), /the function hex\(\) is not available/);
});

test('a wrong type at run time is an error naming it, never a pass', () => {
  const c = compiled('predicate.buildDefinition.externalParameters.workflow.ref.startsWith("refs/")');
  const odd = structuredClone(provenance) as {
    buildDefinition: { externalParameters: { workflow: { ref: unknown } } };
  };
  odd.buildDefinition.externalParameters.workflow.ref = 42;
  const r = c.evaluate(input(odd));
  assert.ok(!r.holds);
  assert.equal(r.error, true);
  assert.match(
    r.message,
    /^could not be evaluated: .*; it saw predicate\.buildDefinition\.externalParameters\.workflow\.ref = 42$/,
  );
  const missing = compiled('predicate.nope.deeper == "x"').evaluate(input());
  assert.ok(!missing.holds);
  assert.equal(missing.error, true);
  assert.match(missing.message, /it saw predicate\.nope\.deeper = \(absent\)/);
});

test('hostile predicates: nested comprehensions over a huge list hit the cost limit', () => {
  const huge = { materials: Array.from({ length: 5000 }, (_, i) => ({ uri: `git+https://x/${i}` })) };
  const c = compiled('predicate.materials.all(a, predicate.materials.all(b, a.uri != "" && b.uri != ""))');
  const started = process.hrtime.bigint();
  const r = c.evaluate(input(huge));
  assert.ok(!r.holds);
  assert.equal(r.error, true);
  assert.match(r.message, /exceeded the cost limit \(200000 reads/);
  assert.ok(process.hrtime.bigint() - started < 60_000_000_000n); // bounded, whatever the machine
  // One pass over the same list is well within the limit.
  assert.deepEqual(compiled('predicate.materials.all(m, m.uri.startsWith("git+"))').evaluate(input(huge)), {
    holds: true,
  });
});

test('hostile predicates: nested comprehensions over a wide map hit the cost limit too', () => {
  const wide = { m: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i])) };
  const nested = compiled('predicate.m.all(a, predicate.m.all(b, a != "" && b != ""))');
  const r = nested.evaluate(input(wide));
  assert.ok(!r.holds);
  assert.match(r.message, /cost limit/);
  assert.deepEqual(compiled('predicate.m.exists(k, k == "k19999")').evaluate(input(wide)), { holds: true });
});

test('hostile predicates: a deeply nested value and long strings are bounded', () => {
  let deep: unknown = 'bottom';
  for (let i = 0; i < 10_000; i++) deep = { a: deep };
  const eq = compiled('predicate == predicate');
  const r = eq.evaluate(input(deep));
  assert.ok(!r.holds);
  assert.equal(r.error, true);
  const long = { s: 'x'.repeat(1_000_000) };
  const concat = compiled('[1,2,3,4,5].all(i, size(predicate.s + predicate.s) > 0)');
  const l = concat.evaluate(input(long));
  // 10 reads of a 1 MB string cost about 100,000: allowed; 24 reads are over the limit.
  assert.equal(l.holds, true);
  const more = compiled('[1,2,3,4,5,6,7,8,9,10,11,12].all(i, size(predicate.s + predicate.s) > 0)');
  const m = more.evaluate(input(long));
  assert.ok(!m.holds);
  assert.match(m.message, /cost limit/);
});

test('matches is RE2: a catastrophic pattern on a hostile string runs in linear time', () => {
  const c = compiled('predicate.s.matches("^(a+)+$")');
  const started = process.hrtime.bigint();
  const r = c.evaluate(input({ s: 'a'.repeat(50_000) + 'b' }));
  assert.ok(!r.holds);
  assert.equal(r.error, false);
  assert.ok(process.hrtime.bigint() - started < 30_000_000_000n);
});

test('values shown in a message are bounded', () => {
  const c = compiled('predicate.s == "x"');
  const r = c.evaluate(input({ s: 'y'.repeat(10_000) }));
  assert.ok(!r.holds);
  assert.ok(r.message.length < 200 + CONDITION_LIMITS.valueChars, r.message);
  assert.match(r.message, /…$/);
});
