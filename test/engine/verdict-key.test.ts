// The verdict cache's key: one per (repository, digest, policy, generation, trust root and version, keys,
// index), the same whether remembered or built again, and never one part's key handed out for another;
// and the scope (all of it but the image and index), one object while its parts stay the same.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { VerdictKeys, VerdictScopeSlot } from '../../src/engine/verdict-key.ts';
import type { VerdictScope } from '../../src/engine/verdict-key.ts';
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
  /** A new scope object each time: keys are found by the scope's parts, never by its identity. */
  const scopeOf = (parts: Partial<VerdictScope> = {}): VerdictScope => ({
    policy,
    generation: snapshot.generation,
    rootName: 'public-good',
    trustVersion: 'v1',
    keys: '-',
    ...parts,
  });
  type Parts = Parameters<VerdictKeys['key']>;
  const base = (): Parts => [scopeOf(), reference, DIGEST, 'digest'];

  test('a 32-byte sha256 as a one-byte string, the same for the same parts', () => {
    const keys = new VerdictKeys();
    const key = keys.key(...base());
    assert.equal(key.length, 32);
    assert.equal(new VerdictKeys().key(...base()), key, 'not a property of one instance');
    const reparsed = Object.freeze(parseReference(`registry.example/app@${DIGEST}`));
    assert.equal(keys.key(scopeOf(), reparsed, DIGEST, 'digest'), key, 'nor of one parse');
  });

  test('every part changes the key, before and after the first key was found in a cache', () => {
    const other = snapshotOf(1, 'other');
    const otherImage = Object.freeze(parseReference(`registry.example/other@${DIGEST}`));
    const variants: Parts[] = [
      [scopeOf(), otherImage, DIGEST, 'digest'],
      [scopeOf(), reference, OTHER_DIGEST, 'digest'],
      [scopeOf({ policy: other.policies[0] as CompiledPolicy }), reference, DIGEST, 'digest'],
      [scopeOf({ generation: snapshotOf(2).generation }), reference, DIGEST, 'digest'],
      [scopeOf({ rootName: 'staging' }), reference, DIGEST, 'digest'],
      [scopeOf({ trustVersion: 'v2' }), reference, DIGEST, 'digest'],
      [scopeOf({ keys: 'ab12' }), reference, DIGEST, 'digest'],
      [scopeOf(), reference, DIGEST, `index ${OTHER_DIGEST}`],
    ];
    for (const remembered of [false, true]) {
      const keys = new VerdictKeys();
      const first = keys.key(...base());
      const holding = cacheOf(first);
      if (remembered) assert.equal(keys.peek(holding, ...base()), 'held');
      const others = variants.map((parts) => keys.key(...parts));
      assert.equal(new Set([first, ...others]).size, variants.length + 1, `remembered: ${remembered}`);
      for (const parts of variants) assert.equal(keys.peek(holding, ...parts), undefined);
    }
  });

  test('peek: what the cache holds under the key, found again through the remembered key', () => {
    const keys = new VerdictKeys();
    const key = keys.key(...base());
    const empty = cacheOf();
    assert.equal(keys.peek(empty, ...base()), undefined);
    const holding = cacheOf(key);
    assert.equal(keys.peek(holding, ...base()), 'held');
    assert.equal(keys.peek(holding, ...base()), 'held');
    assert.equal(keys.key(...base()), key);
    assert.equal(holding.lookups, 2);
  });

  test('up to four keys per policy and image (a moved tag, a rotated root) each find their own entry', () => {
    const keys = new VerdictKeys();
    const versions = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'];
    const all = versions.map((v) => keys.key(scopeOf({ trustVersion: v }), reference, DIGEST, 'digest'));
    const cache = cacheOf(...all);
    for (let round = 0; round < 2; round++)
      for (const v of versions)
        assert.equal(keys.peek(cache, scopeOf({ trustVersion: v }), reference, DIGEST, 'digest'), 'held');
    for (const [i, v] of versions.entries())
      assert.equal(keys.key(scopeOf({ trustVersion: v }), reference, DIGEST, 'digest'), all[i]);
  });
});

describe('VerdictScopeSlot', () => {
  const snapshot = snapshotOf(1);
  const policy = snapshot.policies[0] as CompiledPolicy;
  const v1 = { version: 'v1' };

  test('one scope object while the generation, root version and keys stay the same (a cache hit builds none)', () => {
    const slot = new VerdictScopeSlot(policy, 'public-good');
    const scope = slot.at(snapshot, v1, '-');
    assert.deepEqual(scope, {
      policy,
      generation: snapshot.generation,
      rootName: 'public-good',
      trustVersion: 'v1',
      keys: '-',
    });
    assert.equal(
      slot.at(snapshotOf(1), { version: 'v1' }, ['-'].join(',')),
      scope,
      'equal parts, same object',
    );
  });

  test('a new scope, and so a new key, when the generation, the root version or the keys change', () => {
    const reference = Object.freeze(parseReference(`registry.example/app@${DIGEST}`));
    const keys = new VerdictKeys();
    const changes: Array<[PolicySnapshotView, { version: string }, string]> = [
      [snapshotOf(2), v1, '-'],
      [snapshot, { version: 'v2' }, '-'],
      [snapshot, v1, 'ab12'],
    ];
    assert.notEqual(snapshotOf(2).generation, snapshot.generation);
    for (const [changedSnapshot, trust, changedKeys] of changes) {
      const slot = new VerdictScopeSlot(policy, 'public-good');
      const first = slot.at(snapshot, v1, '-');
      const scope = slot.at(changedSnapshot, trust, changedKeys);
      assert.notEqual(scope, first);
      assert.deepEqual(
        [scope.generation, scope.trustVersion, scope.keys],
        [changedSnapshot.generation, trust.version, changedKeys],
      );
      assert.notEqual(keys.key(scope, reference, DIGEST, ''), keys.key(first, reference, DIGEST, ''));
    }
  });
});
