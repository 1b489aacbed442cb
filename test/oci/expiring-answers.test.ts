// The store every lazily-obtained registry credential shares (cloud exchanges, docker credential
// helpers, credential provider plugins): answers kept until a deadline, one run per key at a time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExpiringAnswers } from '../../src/oci/expiring-answers.ts';

test('an answer is kept until the instant it goes stale; one already stale is not kept', () => {
  const clock = { now: 100 };
  const answers = new ExpiringAnswers<string>({ maxEntries: 4, now: () => clock.now });
  answers.keep('a', 'A', 110);
  answers.keep('late', 'L', 100);
  assert.equal(answers.kept('late'), undefined);
  clock.now = 109;
  assert.equal(answers.kept('a'), 'A');
  clock.now = 110;
  assert.equal(answers.kept('a'), undefined);
});

test('callers asking meanwhile share one run; a failed run is not remembered', async () => {
  const answers = new ExpiringAnswers<string>({ maxEntries: 4 });
  let runs = 0;
  let release: (value: string) => void = () => undefined;
  const run = () => {
    runs++;
    return new Promise<string>((resolve) => (release = resolve));
  };
  const waiting = [answers.shared('k', run), answers.shared('k', run)];
  release('v');
  assert.deepEqual(await Promise.all(waiting), ['v', 'v']);
  assert.equal(runs, 1);
  await assert.rejects(
    answers.shared('k', () => Promise.reject(new Error('down'))),
    /down/,
  );
  assert.equal(await answers.shared('k', () => Promise.resolve('again')), 'again');
});

test('when full, stale answers go first, then the oldest kept; re-keeping a key evicts nothing', () => {
  const clock = { now: 0 };
  const answers = new ExpiringAnswers<string>({ maxEntries: 2, now: () => clock.now });
  answers.keep('old', 'O', 1000);
  answers.keep('short', 'S', 10);
  clock.now = 20;
  answers.keep('new', 'N', 1000);
  assert.equal(answers.kept('old'), 'O', 'the stale one made room');
  answers.keep('new', 'N2', 1000);
  assert.equal(answers.kept('old'), 'O');
  answers.keep('third', 'T', 1000);
  assert.equal(answers.kept('old'), undefined, 'the oldest kept went');
  assert.equal(answers.kept('new'), 'N2');
});
