// settle(): the read-back after a read-modify-write of a shared tag (signer/settle.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SigwardError } from '../../src/errors.ts';
import { settle } from '../../src/signer/settle.ts';

test('an entry other writers keep dropping: REGISTRY_CONFLICT saying what was tried and what to do', async () => {
  let repairs = 0;
  await assert.rejects(
    settle({
      present: () => Promise.resolve(false),
      repair: () => Promise.resolve(void repairs++),
      what: 'the signature tag sha256-abc.sig',
    }),
    (error: unknown) =>
      error instanceof SigwardError &&
      error.code === 'REGISTRY_CONFLICT' &&
      /^the signature tag sha256-abc\.sig still lacks the new entry after 8 read-backs and rewrites: .*run the signing again once the other signers of this image have finished$/.test(
        error.message,
      ),
  );
  assert.equal(repairs, 8);
});

test('an entry seen twice in a row settles; one dropped once is written back', async () => {
  const seen = [false, true, true];
  let repairs = 0;
  await settle({
    present: () => Promise.resolve(seen.shift() ?? true),
    repair: () => Promise.resolve(void repairs++),
    what: 'the tag',
  });
  assert.equal(repairs, 1);
  assert.equal(seen.length, 0);
});

test('a refusal while writing back ends it with that refusal', async () => {
  await assert.rejects(
    settle({
      present: () => Promise.resolve(false),
      repair: () => Promise.reject(new SigwardError('REGISTRY_DENIED', 'push denied')),
      what: 'the tag',
    }),
    { code: 'REGISTRY_DENIED' },
  );
});
