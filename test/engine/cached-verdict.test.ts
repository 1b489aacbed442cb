// The verdict cache keeps only what evaluation reads: the per-authority outcomes of a compacted verdict
// equal those of the full one (credited authorities, refusals with the signer they name, failures),
// and a verified signature nobody refused no longer holds the certificate's extensions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedValues, compactVerdict } from '../../src/engine/cached-verdict.ts';
import { authorityOutcomes } from '../../src/policy/evaluate.ts';
import type { VerdictLike } from '../../src/policy/evaluate.ts';

const signer = {
  kind: 'certificate' as const,
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1',
  extensions: { sourceRepositoryURI: 'https://github.com/o/r', buildTrigger: 'push' },
};
const location = { source: 'fallback-tag', repository: 'r/x', manifest: 'sha256:1', layer: 0 };

const verdicts: Record<string, VerdictLike> = {
  verified: {
    status: 'verified',
    code: 'VERIFIED',
    message: '1 of 1 signature(s) verified',
    signatures: [
      { verified: true, authorities: ['a', 'b'], rejectedBy: [], signer, location, signedAt: ['x'] } as never,
    ],
  },
  'verified, one authority refused': {
    status: 'verified',
    code: 'VERIFIED',
    message: '1 of 1 signature(s) verified',
    signatures: [
      {
        verified: true,
        authorities: ['a'],
        rejectedBy: [{ authority: 'b', code: 'IDENTITY_SUBJECT_MISMATCH', reason: 'expected x, found y' }],
        signer,
        location,
      } as never,
    ],
  },
  rejected: {
    status: 'rejected',
    code: 'IDENTITY_SUBJECT_MISMATCH',
    message: 'none of 1 signature(s) is valid',
    signatures: [
      { verified: false, code: 'IDENTITY_SUBJECT_MISMATCH', reason: 'expected x', signer, location } as never,
    ],
    index: {
      status: 'unsigned',
      code: 'NO_SIGNATURES',
      message: 'no signatures found',
      signatures: [],
    },
  },
};

for (const [name, verdict] of Object.entries(verdicts)) {
  test(`compactVerdict keeps what evaluation reads: ${name}`, () => {
    const compact = compactVerdict(verdict);
    for (const authorities of [['a'], ['b'], ['a', 'b'], ['c', 'a']])
      assert.deepEqual(authorityOutcomes(compact, authorities), authorityOutcomes(verdict, authorities));
    assert.ok(!JSON.stringify(compact).includes('fallback-tag'), 'where it was found is not kept');
  });

  test(`a shared verdict reads as the compact one: ${name}`, () => {
    const shared = new SharedValues().share(compactVerdict(verdict));
    for (const authorities of [['a'], ['b'], ['a', 'b'], ['c', 'a']])
      assert.deepEqual(authorityOutcomes(shared, authorities), authorityOutcomes(verdict, authorities));
    assert.deepEqual(shared, compactVerdict(verdict));
  });
}

test('verdicts of equal content are one frozen object; different content is not shared', () => {
  const values = new SharedValues();
  const first = values.share(compactVerdict(verdicts['verified']!));
  const again = values.share(compactVerdict(structuredClone(verdicts['verified']!)));
  assert.equal(again, first, 'the second equal verdict is the first object');
  const refused = values.share(compactVerdict(verdicts['verified, one authority refused']!));
  assert.notEqual(refused, first);
  assert.equal(values.size, 2);
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first.signatures[0]));
  assert.throws(() => {
    (first.signatures as unknown[]).push({});
  }, TypeError);
});

test('the shared object is a copy: the verdict handed in is neither kept nor frozen', () => {
  const compact = compactVerdict(verdicts['rejected']!);
  const shared = new SharedValues().share(compact);
  assert.notEqual(shared, compact);
  assert.ok(!Object.isFrozen(compact) && !Object.isFrozen(compact.signatures));
});

test('the table of shared contents is bounded: it starts over after its maximum', () => {
  const values = new SharedValues(3);
  const made = Array.from({ length: 7 }, (_, i) =>
    values.share({
      status: 'unsigned',
      code: 'NO_SIGNATURES',
      message: `in repository ${i}`,
      signatures: [],
    }),
  );
  assert.ok(values.size <= 3, `holds ${values.size} contents`);
  assert.equal(values.size, 1, '7 contents in a table of 3: two fresh starts, one content since');
  // Values handed out before a fresh start stay what they were.
  assert.deepEqual(
    made.map((v) => v.message),
    Array.from({ length: 7 }, (_, i) => `in repository ${i}`),
  );
});

test('a verified signature nobody refused keeps issuer and subject, not the extensions', () => {
  const [kept] = compactVerdict(verdicts['verified']!).signatures;
  assert.deepEqual(kept, {
    verified: true,
    authorities: ['a', 'b'],
    signer: { kind: 'certificate', issuer: signer.issuer, subject: signer.subject },
  });
  const [refused] = compactVerdict(verdicts['verified, one authority refused']!).signatures;
  assert.deepEqual(refused?.signer, signer, 'a refusal names the signer with what it found');
});
