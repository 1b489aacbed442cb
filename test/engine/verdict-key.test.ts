// The verdict cache's key: one per (repository, digest, policy, generation, trust root and version, keys,
// index), the same whether remembered or built again, and never one part's key handed out for another.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { VerdictKeys } from '../../src/engine/verdict-key.ts';
import type { PolicySnapshotView } from '../../src/engine/ports.ts';
import { parseReference } from '../../src/oci/index.ts';
import type { CompiledPolicy } from '../../src/policy/compile.ts';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import { clusterPolicy, kubewardenAuthority } from './harness.ts';

const snapshotOf = (generation: number, name = 'kubewarden'): PolicySnapshotView =>
  buildSnapshot([clusterPolicy(name, ['registry.example/**'], [kubewardenAuthority()], {}, generation)]);
const DIGEST = `sha256:${'a'.repeat(64)}`;
const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`;

/** A cache holding exactly the given keys, counting its lookups. */
function cacheOf(...keys: string[]): { peek(key: string): string | undefined; lookups: number } {
  const held = new Set(keys);
  return {
    lookups: 0,
    peek(key) {
      this.lookups++;
      return held.has(key) ? 'held' : undefined;
    },
  };
}

describe('VerdictKeys', () => {
  const snapshot = snapshotOf(1);
  const policy = snapshot.policies[0] as CompiledPolicy;
  const reference = Object.freeze(parseReference(`registry.example/app@${DIGEST}`));
  const base = [policy, reference, DIGEST, snapshot, 'public-good', 'v1', '-', 'digest'] as const;

  test('a 32-byte sha256 as a one-byte string, the same for the same parts', () => {
    const keys = new VerdictKeys();
    const key = keys.key(...base);
    assert.equal(key.length, 32);
    assert.equal(new VerdictKeys().key(...base), key, 'not a property of one instance');
    const reparsed = Object.freeze(parseReference(`registry.example/app@${DIGEST}`));
    assert.equal(
      keys.key(policy, reparsed, DIGEST, snapshot, 'public-good', 'v1', '-', 'digest'),
      key,
      'nor of one parse',
    );
  });

  test('every part changes the key, before and after the first key was found in a cache', () => {
    const other = snapshotOf(1, 'other');
    const otherImage = Object.freeze(parseReference(`registry.example/other@${DIGEST}`));
    type Parts = Parameters<VerdictKeys['key']>;
    const variants: Parts[] = [
      [policy, otherImage, DIGEST, snapshot, 'public-good', 'v1', '-', 'digest'],
      [policy, reference, OTHER_DIGEST, snapshot, 'public-good', 'v1', '-', 'digest'],
      [other.policies[0] as CompiledPolicy, reference, DIGEST, snapshot, 'public-good', 'v1', '-', 'digest'],
      [policy, reference, DIGEST, snapshotOf(2), 'public-good', 'v1', '-', 'digest'],
      [policy, reference, DIGEST, snapshot, 'staging', 'v1', '-', 'digest'],
      [policy, reference, DIGEST, snapshot, 'public-good', 'v2', '-', 'digest'],
      [policy, reference, DIGEST, snapshot, 'public-good', 'v1', 'ab12', 'digest'],
      [policy, reference, DIGEST, snapshot, 'public-good', 'v1', '-', `index ${OTHER_DIGEST}`],
    ];
    for (const remembered of [false, true]) {
      const keys = new VerdictKeys();
      const first = keys.key(...base);
      const holding = cacheOf(first);
      if (remembered) assert.equal(keys.peek(holding, ...base), 'held');
      const others = variants.map((parts) => keys.key(...parts));
      assert.equal(new Set([first, ...others]).size, variants.length + 1, `remembered: ${remembered}`);
      for (const parts of variants) assert.equal(keys.peek(holding, ...parts), undefined);
    }
  });

  test('peek: what the cache holds under the key, found again through the remembered key', () => {
    const keys = new VerdictKeys();
    const key = keys.key(...base);
    const empty = cacheOf();
    assert.equal(keys.peek(empty, ...base), undefined);
    const holding = cacheOf(key);
    assert.equal(keys.peek(holding, ...base), 'held');
    assert.equal(keys.peek(holding, ...base), 'held');
    assert.equal(keys.key(...base), key);
    assert.equal(holding.lookups, 2);
  });

  test('up to four keys per policy and image (a moved tag, a rotated root) each find their own entry', () => {
    const keys = new VerdictKeys();
    const versions = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'];
    const all = versions.map((v) =>
      keys.key(policy, reference, DIGEST, snapshot, 'public-good', v, '-', 'digest'),
    );
    const cache = cacheOf(...all);
    for (let round = 0; round < 2; round++)
      for (const v of versions)
        assert.equal(
          keys.peek(cache, policy, reference, DIGEST, snapshot, 'public-good', v, '-', 'digest'),
          'held',
        );
    for (const [i, v] of versions.entries())
      assert.equal(keys.key(policy, reference, DIGEST, snapshot, 'public-good', v, '-', 'digest'), all[i]);
  });
});
