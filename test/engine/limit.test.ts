// Bounded concurrency per registry: never more than the limit at once per key, other keys unaffected,
// every task runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedLimiter, mapLimit } from '../../src/engine/limit.ts';

test('at most N tasks per key at once; keys independent; all run in order', async () => {
  const limiter = new KeyedLimiter(2);
  let peak = 0;
  const order: number[] = [];
  const gates: Array<() => void> = [];
  const task = (i: number) => () =>
    new Promise<number>((resolve) => {
      peak = Math.max(peak, limiter.running('a'));
      gates.push(() => {
        order.push(i);
        resolve(i);
      });
    });
  const all = Array.from({ length: 6 }, (_, i) => limiter.run('a', task(i)));
  const other = limiter.run('b', async () => 'b');
  assert.equal(await other, 'b', 'another registry is not held up');
  while (order.length < 6) {
    await new Promise((r) => setImmediate(r));
    gates.shift()?.();
  }
  assert.deepEqual(await Promise.all(all), [0, 1, 2, 3, 4, 5]);
  assert.equal(peak, 2);
  assert.equal(limiter.running('a'), 0);
  assert.deepEqual(await mapLimit([3, 1, 2], 2, async (x) => x * 2), [6, 2, 4]);
});
