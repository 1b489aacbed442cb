// The token bucket (kube/token-bucket.ts) on a clock the test moves: `burst` at once, then `perSecond`;
// msUntilToken says how long a caller that waits (the re-check) must wait, 0 when a token is there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../../src/kube/token-bucket.ts';

test('burst, then refills at the rate; msUntilToken is the exact wait', () => {
  let now = 0;
  const bucket = new TokenBucket({ burst: 2, perSecond: 4, now: () => now });
  assert.equal(bucket.msUntilToken(), 0);
  assert.ok(bucket.take());
  assert.ok(bucket.take());
  assert.equal(bucket.take(), false);
  assert.equal(bucket.msUntilToken(), 250);
  now += 100;
  assert.equal(bucket.msUntilToken(), 150);
  assert.equal(bucket.take(), false);
  now += 150;
  assert.equal(bucket.msUntilToken(), 0);
  assert.ok(bucket.take());
  now += 10_000;
  assert.ok(bucket.take());
  assert.ok(bucket.take());
  assert.equal(bucket.take(), false, 'never more than the burst, however long it waited');
});
