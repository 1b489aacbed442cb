// A leaf whose exact bytes passed the signing-key step against one trust material is checked again
// without its issuer's signature check and its SCT's (leaf-memo.ts); everything that depends on the
// bundle still runs. Counted by watching node:crypto's synchronous `verify`, which @sigstore/core
// calls at call time (as the eleventh session's tests did). Each trust material below is a fresh copy
// of the prod root's (`{ ...material }`: the same CA objects, whose own pair checks stay remembered per
// root version, and a memo of its own), unless a test shares one on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as NodeCrypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Verifier, toSignedEntity } from '@sigstore/verify';
import type { SignedEntity, TrustMaterial } from '@sigstore/verify';
import { parseBundle } from '../../src/sigstore/bundle.ts';
import { CachedCertificate } from '../../src/sigstore/cached-certificate.ts';
import {
  LEAF_MEMO_CAPACITY,
  LeafMemo,
  forgetLeaves,
  leafMemoOf,
  setLeafMemoEntries,
} from '../../src/sigstore/leaf-memo.ts';
import { signedEntity } from '../../src/sigstore/signed-entity.ts';
import { loadTrustRoot } from '../../src/sigstore/trusted-root.ts';
import { CachedKeyVerifier } from '../../src/sigstore/verifier.ts';
import { verifyBundle } from '../../src/sigstore/verify.ts';
import type { SignedContent, VerifiedSignature } from '../../src/sigstore/verify.ts';
import { PROD_ROOT_PATH, conformanceBundleCases, ext, prodRoot, readJson } from './ext.ts';
import type { ConformanceBundleCase } from './ext.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const RS_BUNDLE = ext('sigstore-rs/tests/data/bundle_v03.json');
const RS_DIGEST = 'sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172';
const image: SignedContent = { kind: 'image', digest: RS_DIGEST };

const nodeCrypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
const syncVerify = nodeCrypto.verify;
/** Runs `body`, counting node:crypto's synchronous verify calls (OpenSSL signature checks). */
function counting<T>(body: () => T): { result: T; calls: number } {
  let calls = 0;
  const patch = nodeCrypto as unknown as Record<string, unknown>;
  patch['verify'] = (...args: unknown[]) => {
    calls++;
    return (syncVerify as (...a: unknown[]) => unknown)(...args);
  };
  try {
    return { result: body(), calls };
  } finally {
    patch['verify'] = syncVerify;
  }
}

/** A trust material of its own (an empty memo) over the prod root's objects. */
const freshMaterial = (): TrustMaterial => ({ ...prodRoot().material });
const spki = (key: KeyObject): string => key.export({ format: 'der', type: 'spki' }).toString('base64');
const rsJson = (): Json => readJson(RS_BUNDLE) as Json;
const rsRun = (trust: TrustMaterial, json: Json = rsJson()): VerifiedSignature =>
  verifyBundle({ bundle: parseBundle(json), trust, signer: { kind: 'keyless' }, content: image });

/** The signing-key step alone, on a fresh entity of `json`: its OpenSSL calls and its signer's key. */
function signingKeyStep(trust: TrustMaterial, json: Json = rsJson()): { calls: number; key: string } {
  const entity = signedEntity({ bundle: parseBundle(json) });
  const verifier = new CachedKeyVerifier(trust);
  const times = verifier.verifyTimestamps(entity);
  const { result, calls } = counting(() => verifier.verifySigningKey(entity, times));
  return { calls, key: spki(result.key) };
}

/** What a verification ends in: its VerifiedSignature, or its error's class, code and message. */
function outcomeOf(run: () => unknown): unknown {
  try {
    return { ok: run() };
  } catch (error) {
    // The error and its causes, each with its class, code and message.
    const chain: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) {
      chain.push(`${e.constructor.name} ${(e as { code?: string }).code}: ${e.message}`);
    }
    return { failed: chain.join(' <- ') };
  }
}

const withLeaf = (json: Json, edit: (der: Buffer) => void): Json => {
  const der = Buffer.from(json.verificationMaterial.certificate.rawBytes, 'base64');
  edit(der);
  json.verificationMaterial.certificate.rawBytes = der.toString('base64');
  return json;
};

test('the same leaf again: no OpenSSL call for its chain or SCTs, the same signer and verdict', () => {
  // The root's own pairs (intermediate by root, root by itself) checked once, as any earlier bundle does.
  signingKeyStep(freshMaterial());
  const trust = freshMaterial();
  const first = signingKeyStep(trust);
  assert.equal(first.calls, 2, "the leaf by its intermediate (P-384) and the SCT by its log's key (P-256)");
  const again = signingKeyStep(trust);
  assert.deepEqual(again, { calls: 0, key: first.key });

  // The whole verification: two checks fewer, the same answer (identity, times, what was signed).
  const cold = counting(() => rsRun(freshMaterial()));
  const warm = counting(() => rsRun(trust));
  assert.equal(warm.calls, cold.calls - 2);
  assert.deepEqual(
    { ...warm.result, identity: { ...warm.result.identity, publicKey: undefined } },
    { ...cold.result, identity: { ...cold.result.identity, publicKey: undefined } },
  );
  assert.equal(leafMemoOf(trust).size, 1);
});

test('one flipped byte of the leaf is another leaf: it misses, and fails with the library error', () => {
  const trust = freshMaterial();
  rsRun(trust);
  // Inside the signature value (still canonical DER), and inside the TBS: one letter of the identity
  // (the SAN URI's tag `v1.34.0` → `v1.34.1`), the serial and everything else unchanged.
  const edits: ((der: Buffer) => void)[] = [
    (der) => (der[der.length - 3]! ^= 0x01),
    (der) => {
      const at = der.indexOf('release.yml@refs/tags/v1.34.0') + 'release.yml@refs/tags/v1.34.0'.length - 1;
      assert.ok(at > 0);
      der[at]! ^= 0x01;
    },
  ];
  for (const edit of edits) {
    const cold = outcomeOf(() => rsRun(freshMaterial(), withLeaf(rsJson(), edit)));
    const warm = counting(() => outcomeOf(() => rsRun(trust, withLeaf(rsJson(), edit))));
    assert.match(JSON.stringify(cold), /SIGSTORE_CERTIFICATE_UNTRUSTED.*no valid certificate path/);
    assert.deepEqual(warm.result, cold);
    assert.ok(warm.calls >= 1, 'the changed leaf is checked by OpenSSL');
    // The library's own Verifier refuses it too, with the error sigward's came from.
    const library = outcomeOf(() =>
      new Verifier(prodRoot().material).verify(toSignedEntity(parseBundle(withLeaf(rsJson(), edit)))),
    );
    const { failed } = library as { failed: string };
    assert.match(failed, /^VerificationError CERTIFICATE_ERROR/);
    assert.ok((cold as { failed: string }).failed.endsWith(` <- ${failed}`), failed);
  }
  assert.equal(leafMemoOf(trust).size, 1, 'only the leaf that passed');
});

test('another trust material (a new root version) starts empty', () => {
  const trust = freshMaterial();
  rsRun(trust);
  assert.equal(signingKeyStep(trust).calls, 0);
  // A new snapshot of the same bytes: new CA objects, checked afresh (their pairs too).
  const reloaded = loadTrustRoot(readFileSync(PROD_ROOT_PATH), 'reloaded').material;
  const onReloaded = signingKeyStep(reloaded);
  assert.ok(onReloaded.calls >= 2, `${onReloaded.calls} OpenSSL calls on the new version`);
  // A copy sharing the CA objects but not the memo: the leaf's two checks again.
  assert.equal(signingKeyStep(freshMaterial()).calls, 2);
  forgetLeaves(trust);
  assert.equal(signingKeyStep(trust).calls, 2);
});

test('a failed step is not remembered: the second attempt runs the checks again and fails alike', () => {
  // The chain fails: a leaf whose signature was changed.
  const trust = freshMaterial();
  const broken = (): Json => withLeaf(rsJson(), (der) => (der[der.length - 3]! ^= 0x01));
  const first = counting(() => outcomeOf(() => rsRun(trust, broken())));
  const second = counting(() => outcomeOf(() => rsRun(trust, broken())));
  assert.match(JSON.stringify(first.result), /SIGSTORE_CERTIFICATE_UNTRUSTED/);
  assert.deepEqual(second, first);
  assert.equal(leafMemoOf(trust).size, 0);

  // The chain passes, the SCT fails (no CT log in the material): nothing of the leaf is remembered.
  const noCtlog: TrustMaterial = { ...prodRoot().material, ctlogs: [] };
  const sctFirst = counting(() => outcomeOf(() => rsRun(noCtlog)));
  const sctSecond = counting(() => outcomeOf(() => rsRun(noCtlog)));
  assert.match(JSON.stringify(sctFirst.result), /SCT/);
  assert.deepEqual(sctSecond, sctFirst);
  assert.equal(leafMemoOf(noCtlog).size, 0);

  // Too few SCTs for the verifier's threshold: thrown after both checks passed, not remembered.
  const strict = freshMaterial();
  const entity = signedEntity({ bundle: parseBundle(rsJson()) });
  const verifier = new CachedKeyVerifier(strict, { ctlogThreshold: 2 });
  const times = verifier.verifyTimestamps(entity);
  assert.throws(() => verifier.verifySigningKey(entity, times), /expected 2 SCTs, got 1/);
  assert.equal(leafMemoOf(strict).size, 0);
  assert.equal(signingKeyStep(strict).calls, 2);
});

test("a verified time outside the remembered leaf's validity fails, as it does cold", () => {
  const trust = freshMaterial();
  rsRun(trust);
  const leaf = new nodeCrypto.X509Certificate(
    Buffer.from(rsJson().verificationMaterial.certificate.rawBytes, 'base64'),
  );
  for (const at of [new Date(leaf.validTo).getTime() + 1000, new Date(leaf.validFrom).getTime() - 1000]) {
    // The log's integrated time moved outside the leaf's ten minutes (the SET is checked after the key).
    const json = rsJson();
    json.verificationMaterial.tlogEntries[0].integratedTime = String(Math.floor(at / 1000));
    const cold = outcomeOf(() => rsRun(freshMaterial(), structuredClone(json)));
    assert.match(JSON.stringify(cold), /SIGSTORE_CERTIFICATE_UNTRUSTED.*not valid or expired/);
    assert.deepEqual(
      outcomeOf(() => rsRun(trust, json)),
      cold,
    );
    // And the step alone, the remembered leaf at a time past its end.
    const entity = signedEntity({ bundle: parseBundle(rsJson()) });
    const verifier = new CachedKeyVerifier(trust);
    const times = verifier.verifyTimestamps(entity);
    assert.throws(
      () => verifier.verifySigningKey(entity, [...times, new Date(at)]),
      (e: Error & { cause?: Error }) =>
        /Failed to verify certificate chain/.test(e.message) &&
        /not valid or expired/.test(e.cause?.message ?? ''),
    );
  }
  // The remembered leaf still verifies at its own times.
  assert.equal(signingKeyStep(trust).calls, 0);
});

test('the CA valid at each verified time still decides when its memo holds the leaf', () => {
  const trust = freshMaterial();
  rsRun(trust);
  const ended = { start: new Date('2021-01-01T00:00:00Z'), end: new Date('2022-01-01T00:00:00Z') };
  // The same CA objects (so the same issuer), their window ended before the signature. Its memo is
  // given what the leaf proved under `trust` (a pure function of the same bytes and objects).
  const expired: TrustMaterial = {
    ...trust,
    certificateAuthorities: trust.certificateAuthorities.map((ca) => ({ ...ca, validFor: ended })),
  };
  const leafOf = (e: SignedEntity): CachedCertificate => {
    assert.ok(e.key.$case === 'certificate' && e.key.certificate instanceof CachedCertificate);
    return e.key.certificate;
  };
  const proven = leafOf(signedEntity({ bundle: parseBundle(rsJson()) }));
  const recalled = proven.recallFrom(leafMemoOf(trust));
  assert.ok(recalled);
  for (const issuer of recalled.issuers)
    assert.ok(proven.rememberIn(leafMemoOf(expired), issuer as CachedCertificate));
  const entity = signedEntity({ bundle: parseBundle(rsJson()) });
  const verifier = new CachedKeyVerifier(expired);
  const times = verifier.verifyTimestamps(entity);
  const refused = counting(() => outcomeOf(() => verifier.verifySigningKey(entity, times)));
  // No CA valid at the signing time: none is tried (the library's error has no cause then).
  assert.deepEqual(refused.result, {
    failed: 'VerificationError CERTIFICATE_ERROR: Failed to verify certificate chain',
  });
  assert.equal(refused.calls, 0, 'refused for the window, not by a signature check');
});

test('a certificate records only the issuers whose check passed, and only from the bytes it was read from', () => {
  const json = rsJson();
  const der = Buffer.from(json.verificationMaterial.certificate.rawBytes, 'base64');
  const leaf = CachedCertificate.read(der);
  const [intermediate, root] = prodRoot().material.certificateAuthorities.at(-1)!.certChain;
  assert.ok(intermediate instanceof CachedCertificate && root instanceof CachedCertificate);
  const memo = new LeafMemo();
  assert.equal(leaf.rememberIn(memo, intermediate), false, 'never checked');
  assert.equal(leaf.verify(root), false);
  assert.equal(leaf.rememberIn(memo, root), false, 'checked, failed');
  assert.equal(leaf.verify(intermediate), true);
  assert.equal(leaf.rememberIn(memo, intermediate), true);
  assert.deepEqual([...memo.recall(der)!.issuers], [intermediate]);
  // The same bytes in another buffer are the same leaf; a wrapped tree has no read bytes to match.
  const copy = CachedCertificate.read(Buffer.concat([Buffer.from([0]), der]).subarray(1));
  assert.equal(
    counting(() => {
      copy.recallFrom(memo);
      return copy.verify(intermediate);
    }).calls,
    0,
  );
  const wrapped = CachedCertificate.of(new CachedCertificate(leaf.root));
  assert.equal(wrapped.recallFrom(memo), undefined);
  assert.equal(wrapped.rememberIn(memo, intermediate), false);
  // SCT answers only beside a remembered signature of the same bytes.
  memo.rememberScts(Buffer.from('other'), intermediate, [Buffer.from('log')]);
  memo.rememberScts(der, root, [Buffer.from('log')]);
  assert.equal(memo.recall(der)!.scts.size, 0);
});

test('the memo is bounded: the least recently used leaf goes first', () => {
  const memo = new LeafMemo(2);
  const [a, b, c] = ['a', 'b', 'c'].map((s) => Buffer.from(s));
  const issuer = {};
  memo.rememberIssuer(a!, issuer);
  memo.rememberIssuer(b!, issuer);
  assert.ok(memo.recall(a!)); // a is now the most recently used
  memo.rememberIssuer(c!, issuer);
  assert.equal(memo.size, 2);
  assert.equal(memo.recall(b!), undefined);
  assert.ok(memo.recall(a!) && memo.recall(c!));
  memo.clear();
  assert.equal(memo.size, 0);
});

function stepsOutcome(c: ConformanceBundleCase, trust: TrustMaterial): string {
  let entity: SignedEntity;
  try {
    entity = signedEntity({ bundle: c.bundle, artifact: c.artifact });
  } catch {
    return 'unreadable';
  }
  try {
    return `verified ${spki(new CachedKeyVerifier(trust).verify(entity).key)}`;
  } catch (error) {
    const e = error as Error & { code?: string };
    return `${e.constructor.name} ${e.code}: ${e.message}`;
  }
}

test('every conformance bundle: the same outcome with every passed leaf remembered as with none', () => {
  const cases = conformanceBundleCases();
  // Warm: every case once over the shared root objects, so each leaf that passed is remembered (a
  // _fail case often reuses a passing case's leaf with something else changed).
  for (const c of cases) stepsOutcome(c, c.trust);
  const hits = { verified: 0, refused: 0 };
  for (const c of cases) {
    const cold = counting(() => stepsOutcome(c, { ...c.trust }));
    const warm = counting(() => stepsOutcome(c, c.trust));
    assert.equal(warm.result, cold.result, c.name);
    if (warm.calls < cold.calls) hits[warm.result.startsWith('verified') ? 'verified' : 'refused']++;
  }
  // 46 of 62 here: 19 verified, 27 refused for something else than their leaf (a time, a log entry...).
  assert.ok(
    cases.length >= 40 && hits.verified >= 10 && hits.refused >= 10,
    `${cases.length} cases, ${JSON.stringify(hits)} answered from the memo`,
  );
});

test('memos made with no entries (--leaf-memo-entries=0) remember nothing', () => {
  setLeafMemoEntries(0);
  try {
    const trust = freshMaterial();
    rsRun(trust);
    assert.equal(leafMemoOf(trust).size, 0);
    assert.equal(signingKeyStep(trust).calls, 2);
  } finally {
    setLeafMemoEntries(LEAF_MEMO_CAPACITY);
  }
  const trust = freshMaterial();
  rsRun(trust);
  assert.equal(signingKeyStep(trust).calls, 0);
  assert.throws(() => setLeafMemoEntries(-1), RangeError);
});
