// compilePolicy / compileTrustRoot never throw: every valid fixture, mutated thousands of ways
// (deterministic), compiles or returns field errors that name a real path, bounded in size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, compileTrustRoot } from '../../src/policy/compile.ts';
import { VALID_POLICIES, VALID_TRUST_ROOTS } from './policy-cases.ts';

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
  1.5,
  -3,
  true,
  '',
  '(',
  '.*',
  'x'.repeat(70_000),
  [],
  [null],
  {},
  { a: 1 },
  ['**'],
];

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

function setAt(root: unknown, path: (string | number)[], v: unknown): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<string | number, unknown>)[key];
  }
  const last = path.at(-1);
  if (last !== undefined && typeof node === 'object' && node !== null)
    (node as Record<string | number, unknown>)[last] = v;
}

test('mutated policies and trust roots compile or say which field is wrong; never throw', () => {
  const random = prng(4);
  let invalid = 0;
  for (const c of [...VALID_POLICIES, ...VALID_TRUST_ROOTS]) {
    const all = paths(c.resource);
    for (let i = 0; i < 300; i++) {
      const resource = structuredClone(c.resource);
      for (let j = 0; j < 1 + Math.floor(random() * 2); j++) {
        const path = all[Math.floor(random() * all.length)];
        if (path) setAt(resource, path, structuredClone(GARBAGE[Math.floor(random() * GARBAGE.length)]));
      }
      const { errors } =
        resource['kind'] === 'TrustRoot' ? compileTrustRoot(resource) : compilePolicy(resource);
      if (errors.length > 0) invalid++;
      assert.ok(errors.length <= 100);
      for (const e of errors) {
        assert.match(e.field, /^(|apiVersion|kind|metadata(\.\w+)?|spec(\.|\[|$))/, e.field);
        assert.ok(e.message.length < 1200, e.message.slice(0, 100));
      }
    }
  }
  assert.ok(invalid > 1000, `${invalid}`);
});

test('a 4 KiB invalid expression gives a short message that still says why', () => {
  const { errors } = compilePolicy({
    apiVersion: 'policy.sigward.dev/v1alpha1',
    kind: 'ClusterImagePolicy',
    metadata: { name: 'long' },
    spec: {
      images: ['**'],
      authorities: [
        {
          name: 'a',
          keyless: { identities: [{ issuer: 'https://i', subjectRegExp: `(${'x'.repeat(4000)}` }] },
        },
      ],
    },
  });
  assert.equal(errors.length, 1);
  assert.ok((errors[0]?.message.length ?? 0) < 600, `${errors[0]?.message.length}`);
  assert.match(errors[0]?.message ?? '', /^invalid regular expression "\(xxx/);
  assert.match(errors[0]?.message ?? '', /missing closing \)/);
});
