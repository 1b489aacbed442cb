// The single-flight cache on its own: bounded, one computation per key at a time (also when it
// fails), values stored only with a TTL, and the TTL honoured.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SingleFlightCache } from '../../src/engine/verdict-cache.ts';

test('bounded by entries; an untimed value is not stored; a failure is shared, then retried', async () => {
  const lookups: string[] = [];
  let now = 1000;
  const cache = new SingleFlightCache<{ v: number }>(
    'verdict',
    3,
    { lookup: (_c, r) => lookups.push(r) },
    () => now,
  );
  for (let i = 0; i < 10; i++)
    await cache.get(
      `k${i}`,
      async () => ({ v: i }),
      () => 1000,
    );
  assert.equal(cache.size, 3);

  let runs = 0;
  await cache.get(
    'error',
    async () => ({ v: ++runs }),
    () => undefined,
  );
  await cache.get(
    'error',
    async () => ({ v: ++runs }),
    () => undefined,
  );
  assert.equal(runs, 2, 'not stored without a TTL');

  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let failing = 0;
  const compute = async () => {
    failing++;
    await gate;
    throw new Error('registry down');
  };
  const waiting = Array.from({ length: 5 }, () => cache.get('fails', compute, () => 1000));
  release();
  const results = await Promise.allSettled(waiting);
  assert.equal(failing, 1, 'one computation for five callers');
  assert.ok(results.every((r) => r.status === 'rejected'));
  await assert.rejects(cache.get('fails', compute, () => 1000));
  assert.equal(failing, 2, 'the failure was not cached');

  await cache.get(
    'ttl',
    async () => ({ v: 1 }),
    () => 100,
  );
  now += 50;
  assert.equal(
    (
      await cache.get(
        'ttl',
        async () => ({ v: 2 }),
        () => 100,
      )
    ).v,
    1,
  );
  now += 100;
  assert.equal(
    (
      await cache.get(
        'ttl',
        async () => ({ v: 3 }),
        () => 100,
      )
    ).v,
    3,
    'expired',
  );
  assert.ok(lookups.includes('shared') && lookups.includes('hit') && lookups.includes('miss'));
});
