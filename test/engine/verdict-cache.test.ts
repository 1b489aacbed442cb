// The single-flight cache on its own: bounded, one computation per key at a time (also when it
// fails), values stored only with a TTL, and the TTL honoured; the same for the verdict cache (keys
// are sha256 digests, kept in a DigestKeyedLru) and the digest cache (text keys, lru-cache).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { SingleFlightCache } from '../../src/engine/verdict-cache.ts';
import type { CacheName } from '../../src/engine/verdict-cache.ts';

const sha256Key = (text: string): string => createHash('sha256').update(text).digest().toString('latin1');

for (const [name, keyOf] of [
  ['verdict', sha256Key],
  ['digest', (text: string) => text],
] as [CacheName, (text: string) => string][])
  test(`${name} cache: bounded by entries; an untimed value is not stored; a failure is shared, then retried`, async () => {
    const lookups: string[] = [];
    let now = 1000;
    const cache = new SingleFlightCache<{ v: number }>(
      name,
      3,
      { lookup: (_c, r) => lookups.push(r) },
      () => now,
    );
    for (let i = 0; i < 10; i++)
      await cache.get(
        keyOf(`k${i}`),
        async () => ({ v: i }),
        () => 1000,
      );
    assert.equal(cache.size, 3);

    let runs = 0;
    await cache.get(
      keyOf('error'),
      async () => ({ v: ++runs }),
      () => undefined,
    );
    await cache.get(
      keyOf('error'),
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
    const waiting = Array.from({ length: 5 }, () => cache.get(keyOf('fails'), compute, () => 1000));
    release();
    const results = await Promise.allSettled(waiting);
    assert.equal(failing, 1, 'one computation for five callers');
    assert.ok(results.every((r) => r.status === 'rejected'));
    await assert.rejects(cache.get(keyOf('fails'), compute, () => 1000));
    assert.equal(failing, 2, 'the failure was not cached');

    await cache.get(
      keyOf('ttl'),
      async () => ({ v: 1 }),
      () => 100,
    );
    now += 50;
    assert.equal(
      (
        await cache.get(
          keyOf('ttl'),
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
          keyOf('ttl'),
          async () => ({ v: 3 }),
          () => 100,
        )
      ).v,
      3,
      'expired',
    );
    assert.ok(lookups.includes('shared') && lookups.includes('hit') && lookups.includes('miss'));
  });

test('the verdict cache refuses a key that is not a sha256 (a caller bug, never a shared entry)', async () => {
  const cache = new SingleFlightCache<{ v: number }>('verdict', 3);
  await assert.rejects(
    async () =>
      cache.get(
        'registry.example/app@sha256:abc|policy|1',
        async () => ({ v: 1 }),
        () => 1000,
      ),
    /a cache key is 32 bytes, not 40/,
  );
  assert.equal(cache.peek(sha256Key('x')), undefined);
});

test('a computation that throws before it returns a promise fails its callers and is not left in flight: the next get computes again', async () => {
  const cache = new SingleFlightCache<{ v: number }>('digest', 3);
  const failing = (): Promise<{ v: number }> => {
    throw new Error('a bug in the producer');
  };
  await assert.rejects(
    cache.get('tag', failing, () => 1000),
    /a bug in the producer/,
  );
  let computed = 0;
  const value = await cache.get(
    'tag',
    async () => ({ v: ++computed }),
    () => 1000,
  );
  assert.deepEqual(value, { v: 1 });
  assert.equal(computed, 1);
  assert.deepEqual(cache.peek('tag'), { v: 1 });
});
