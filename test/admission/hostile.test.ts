// Hostile requests: every sample review, mutated thousands of ways (deterministic), goes through the
// validator, the skip rules and the response builder. The only acceptable results are a plan, a skip,
// or a SigwardError that becomes a clear refusal: never another exception, never an allow of garbage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import { errorResponse } from '../../src/admission/respond.ts';
import { parseAdmissionReview, uidOf } from '../../src/admission/review.ts';
import { planReview } from '../../src/admission/skip.ts';
import { FIXTURE_NAMES, fixture } from './fixtures.ts';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const GARBAGE: unknown[] = [
  null,
  0,
  -1,
  1e308,
  true,
  '',
  'x'.repeat(100_000),
  '\u0000\n\r',
  [],
  [null],
  {},
  { __proto__: { polluted: true } },
  Array.from({ length: 5000 }, () => ({ image: 'nginx' })),
  { image: ['a'] },
];

/** Every path (object keys, array indexes) inside a value. */
function paths(
  value: unknown,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return out;
  for (const [k, v] of Object.entries(value)) {
    const p = [...prefix, Array.isArray(value) ? Number(k) : k];
    out.push(p);
    paths(v, p, out);
  }
  return out;
}

function setAt(root: Record<string, unknown>, path: (string | number)[], v: unknown): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    // An earlier mutation may have replaced a parent: then this one has nowhere to go.
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<string | number, unknown>)[key];
  }
  const last = path.at(-1);
  if (last !== undefined && typeof node === 'object' && node !== null)
    (node as Record<string | number, unknown>)[last] = v;
}

test('mutated sample reviews: a plan, a skip, or a SigwardError refusal; nothing else', () => {
  const random = prng(20261124);
  let refusals = 0;
  let runs = 0;
  for (const name of FIXTURE_NAMES) {
    const all = paths(fixture(name));
    for (let i = 0; i < 150; i++) {
      const body = fixture(name);
      const count = 1 + Math.floor(random() * 3);
      for (let j = 0; j < count; j++) {
        const path = all[Math.floor(random() * all.length)];
        if (path) setAt(body, path, structuredClone(GARBAGE[Math.floor(random() * GARBAGE.length)]));
      }
      runs++;
      try {
        const request = parseAdmissionReview(body).request;
        const plan = planReview(request, { ownNamespace: 'sigward', scope: 'opt-out' });
        if (plan.skip === undefined) for (const s of plan.sites) assert.equal(typeof s.image, 'string');
      } catch (error) {
        assert.ok(error instanceof SigwardError, `${name}: ${String(error)}`);
        assert.match(error.code, /^ADMISSION_/);
        const reply = errorResponse(uidOf(body), error);
        assert.equal(reply.allowed, false);
        assert.ok((reply.status?.message ?? '').length < 1500);
        refusals++;
      }
    }
  }
  assert.ok(runs >= 2500 && refusals > 100, `${runs} runs, ${refusals} refusals`);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

// No stopwatch: reading the label is linear (milliseconds); anything quadratic over 5 MB would run
// for hours, past the test's timeout.
test('a 5 MB AdmissionReview with one huge label value is read in bounded time', { timeout: 60_000 }, () => {
  const body = fixture('pod-create-signed');
  const object = body.request['object'] as { metadata: { labels: Record<string, string> } };
  object.metadata.labels['big'] = 'x'.repeat(5_000_000);
  const plan = planReview(parseAdmissionReview(body).request, { ownNamespace: 'sigward', scope: 'opt-out' });
  assert.equal(plan.skip, undefined);
});
