// After a burst of work and once the event loop has been quiet long enough, one memory-reducing
// collection; none at a shorter pause, none without a burst, none while busy, none twice for one
// burst, nothing at all without --expose-gc.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BurstThenQuiet, QUIET_MS, startIdleCollection } from '../../src/cli/idle-collection.ts';

/** Which of these intervals (ms of work in 2,000) a collection is due after, quiet 4 s unless told. */
function dueAfter(activeMs: number[], quietMs = 4_000): number[] {
  const due = new BurstThenQuiet({ minActiveMs: 1_000, quietMs });
  return activeMs.flatMap((active, i) => (due.sample(active, 2_000) ? [i] : []));
}

/** `n` idle intervals of 2 s. */
const idle = (n: number): number[] => Array.from({ length: n }, () => 0);

describe('BurstThenQuiet', () => {
  test('a burst, then quiet long enough: one collection, not one per idle interval', () => {
    assert.deepEqual(dueAfter([2_000, 1_500, 0, 0, 0, 0]), [3]);
  });

  test('by default the quiet is a minute: no collection at the first pause', () => {
    const due = new BurstThenQuiet();
    assert.equal(QUIET_MS, 60_000);
    const samples = [2_000, ...idle(QUIET_MS / 2_000)];
    assert.deepEqual(
      samples.flatMap((active, i) => (due.sample(active, 2_000) ? [i] : [])),
      [QUIET_MS / 2_000],
    );
  });

  test('a pause shorter than the quiet between two bursts: no collection in it, one after the last burst', () => {
    // Bursts 6 s apart (a rollout's steps): the compiled code of the first serves the second.
    assert.deepEqual(dueAfter([2_000, 0, 0, 0, 1_500, 0, 0, 0, 0, 0], 8_000), [8]);
  });

  test('a busy interval in the quiet starts it again', () => {
    assert.deepEqual(dueAfter([2_000, 0, 500, 0, 0]), [4]);
  });

  test('none while the loop stays busy, however long', () => {
    assert.deepEqual(dueAfter([2_000, 2_000, 300, 100, 50, 21]), []);
  });

  test('an interval 2 % busy is quiet; one a little busier is not', () => {
    assert.deepEqual(dueAfter([2_000, 40, 40]), [2]);
    assert.deepEqual(dueAfter([2_000, 40, 41, 40]), []);
  });

  test('none without a burst: probes and scrapes alone never add up to one, until they do', () => {
    assert.deepEqual(dueAfter([5, 5, 5, 5, 5, 5]), []);
    assert.deepEqual(dueAfter(Array.from({ length: 60 }, () => 20)), [49]);
    assert.deepEqual(
      dueAfter(
        Array.from({ length: 60 }, () => 20),
        QUIET_MS,
      ),
      [49],
    );
  });

  test('each burst its own collection', () => {
    assert.deepEqual(dueAfter([1_200, 0, 0, 1_000, 0, 0]), [2, 5]);
  });
});

describe('startIdleCollection', () => {
  test('without --expose-gc: off (undefined), no timer started', () => {
    assert.equal(
      typeof (globalThis as { gc?: unknown }).gc,
      'undefined',
      'this test process runs without it',
    );
    assert.equal(startIdleCollection(), undefined);
  });

  test('with --expose-gc: a burst of allocation is followed by one real collection, and its timer never keeps the process alive', async () => {
    const module = fileURLToPath(new URL('../../src/cli/idle-collection.ts', import.meta.url));
    // The child stays alive only through `keep`, cleared by the collection: it exits on its own after
    // it, or the test times out (a timer of its own would hold the process).
    const script = `
      import { startIdleCollection } from ${JSON.stringify(module)};
      const keep = setInterval(() => {}, 60_000);
      startIdleCollection({
        checkMs: 20,
        minActiveMs: 100,
        quietMs: 40,
        onCollect: (c) => {
          process.stdout.write(JSON.stringify(c));
          clearInterval(keep);
        },
      });
      // 300 ms of the main thread's CPU, after the sampling has started.
      setImmediate(() => {
        let garbage = [];
        const until = performance.now() + 300;
        while (performance.now() < until) garbage.push({ bytes: new Array(64).fill(garbage.length) });
        garbage = [];
      });
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--input-type=module', '-e', script],
      { timeout: 30_000 },
    );
    const collected = JSON.parse(stdout) as { ms: number; rssBefore: number; rssAfter: number };
    assert.ok(collected.ms > 0, stdout);
    assert.ok(collected.rssBefore > 0 && collected.rssAfter > 0, stdout);
  });
});
