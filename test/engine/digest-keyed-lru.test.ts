// The verdict cache's store on its own (src/engine/digest-keyed-lru.ts): keys compared in full, the
// least recently used entry evicted, expiry per entry, removal inside a run of occupied slots, and
// keys that are not a sha256 refused. A model (a Map kept in recency order) is compared with it over
// many random operations on a small table, where slots collide all the time.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { DigestKeyedLru, KEY_BYTES } from '../../src/engine/digest-keyed-lru.ts';

/** A key as verify-policy.ts makes them: a sha256 as a one-byte string. */
const keyOf = (text: string): string => createHash('sha256').update(text).digest().toString('latin1');
/** `key` with byte `at` changed. */
const flip = (key: string, at: number): string =>
  key.slice(0, at) + String.fromCharCode(key.charCodeAt(at) ^ 0x01) + key.slice(at + 1);

test('keys differing in any one byte never share an entry', () => {
  const base = keyOf('registry.example/app@sha256:… generation 1');
  const cache = new DigestKeyedLru<{ n: number }>(KEY_BYTES + 1, () => 0);
  cache.set(base, { n: -1 }, { ttl: 1000 });
  for (let at = 0; at < KEY_BYTES; at++) {
    assert.equal(cache.get(flip(base, at)), undefined, `byte ${at} differs: not the base entry`);
    cache.set(flip(base, at), { n: at }, { ttl: 1000 });
  }
  assert.equal(cache.size, KEY_BYTES + 1);
  assert.deepEqual(cache.get(base), { n: -1 });
  for (let at = 0; at < KEY_BYTES; at++) assert.deepEqual(cache.get(flip(base, at)), { n: at });
});

test('256 keys alike but for their first or their last byte are 256 entries each', () => {
  const base = keyOf('registry.example/app@sha256:… generation 2');
  for (const at of [0, KEY_BYTES - 1]) {
    const variant = (b: number): string => base.slice(0, at) + String.fromCharCode(b) + base.slice(at + 1);
    const cache = new DigestKeyedLru<number>(256, () => 0);
    for (let b = 0; b < 256; b++) cache.set(variant(b), b, { ttl: 1000 });
    assert.equal(cache.size, 256);
    for (let b = 0; b < 256; b++) assert.equal(cache.get(variant(b)), b, `byte ${at} = ${b}`);
  }
});

test('a hit returns the very value stored; setting a key again replaces its value', () => {
  const cache = new DigestKeyedLru<object>(4, () => 0);
  const verdict = Object.freeze({ status: 'verified', message: 'signed by release-workflow' });
  cache.set(keyOf('a'), verdict, { ttl: 1000 });
  assert.equal(cache.get(keyOf('a')), verdict);
  const refusal = Object.freeze({ status: 'unsigned' });
  cache.set(keyOf('a'), refusal, { ttl: 1000 });
  assert.equal(cache.get(keyOf('a')), refusal);
  assert.equal(cache.size, 1);
});

test('full: the least recently used entry goes, and a read counts as a use', () => {
  const cache = new DigestKeyedLru<string>(3, () => 0);
  for (const k of ['a', 'b', 'c']) cache.set(keyOf(k), k, { ttl: 1000 });
  assert.equal(cache.get(keyOf('a')), 'a'); // b is now the least recently used
  cache.set(keyOf('d'), 'd', { ttl: 1000 });
  assert.equal(cache.get(keyOf('b')), undefined, 'b evicted');
  assert.deepEqual(
    ['a', 'c', 'd'].map((k) => cache.get(keyOf(k))),
    ['a', 'c', 'd'],
  );
  assert.equal(cache.size, 3);
});

test('an entry expires after its own ttl, and its slot is used again', () => {
  let now = 1000;
  const cache = new DigestKeyedLru<string>(2, () => now);
  cache.set(keyOf('short'), 'short', { ttl: 100 });
  cache.set(keyOf('long'), 'long', { ttl: 10_000 });
  now += 100;
  assert.equal(cache.get(keyOf('short')), 'short', 'still there at exactly its ttl');
  now += 1;
  assert.equal(cache.get(keyOf('short')), undefined, 'expired');
  assert.equal(cache.size, 1);
  cache.set(keyOf('new'), 'new', { ttl: 100 });
  assert.equal(cache.get(keyOf('long')), 'long', 'the freed entry was reused: nothing evicted');
  assert.equal(cache.get(keyOf('new')), 'new');
});

test('a key that is not 32 one-byte characters is refused, never truncated or folded', () => {
  const cache = new DigestKeyedLru<string>(4);
  const hex = createHash('sha256').update('x').digest('hex');
  assert.throws(() => cache.get(hex), /a cache key is 32 bytes, not 64/);
  assert.throws(() => cache.set('short', 'v', { ttl: 1 }), /a cache key is 32 bytes, not 5/);
  assert.throws(() => cache.get('\u0100'.repeat(KEY_BYTES)), /a cache key is a one-byte string/);
  assert.throws(() => cache.set(keyOf('a'), 'v', { ttl: 0 }), /ttl 0: a stored value expires/);
  assert.throws(() => new DigestKeyedLru(0), /cache size 0: at least 1 entry/);
});

// 37 entries in 128 slots: runs of occupied slots, removals from their middle; 2,500 entries: the
// per-entry arrays grow twice (they start at 1,024).
for (const { max, distinct, ttlRange } of [
  { max: 37, distinct: 120, ttlRange: 200 },
  { max: 2500, distinct: 4000, ttlRange: 20_000 },
])
  test(`random gets, sets and expiries (${max} entries, ${distinct} keys) agree with a model LRU`, () => {
    let now = 0;
    const cache = new DigestKeyedLru<number>(max, () => now);
    const model = new Map<string, { value: number; expires: number }>();
    let seed = 12345;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const keys = Array.from({ length: distinct }, (_, i) => keyOf(`key ${i}`));
    for (let step = 0; step < 50_000; step++) {
      const key = keys[random(keys.length)]!;
      now += random(3);
      const held = model.get(key);
      if (random(3) === 0) {
        const expected = held === undefined || now > held.expires ? undefined : held.value;
        model.delete(key);
        if (expected !== undefined) model.set(key, held!); // a hit becomes the most recent
        assert.equal(cache.get(key), expected, `step ${step}: get`);
      } else {
        const ttl = 1 + random(ttlRange);
        model.delete(key);
        if (model.size >= max) model.delete(model.keys().next().value!);
        model.set(key, { value: step, expires: now + ttl });
        cache.set(key, step, { ttl });
      }
    }
    // Expired entries the model still lists were never read: the cache holds them too until read.
    assert.equal(cache.size, model.size);
    for (const [key, { value, expires }] of model)
      assert.equal(cache.get(key), now > expires ? undefined : value);
  });

test('clear empties it; it fills again afterwards', () => {
  const cache = new DigestKeyedLru<string>(2, () => 0);
  cache.set(keyOf('a'), 'a', { ttl: 10 });
  cache.clear();
  assert.equal(cache.size, 0);
  assert.equal(cache.get(keyOf('a')), undefined);
  cache.set(keyOf('b'), 'b', { ttl: 10 });
  cache.set(keyOf('c'), 'c', { ttl: 10 });
  assert.deepEqual([cache.get(keyOf('b')), cache.get(keyOf('c')), cache.size], ['b', 'c', 2]);
});
