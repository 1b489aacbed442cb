// Signature checks run ahead on the thread pool (parallel-checks.ts): an answer found ahead stands in
// only for a check with exactly the same inputs, only inside its own verification, and only when
// OpenSSL passed it; everything else runs node:crypto's synchronous verify as before. Counted by
// watching node:crypto's synchronous `verify`, which @sigstore/core calls at call time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import type * as NodeCrypto from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { crypto as sigstoreCrypto } from '@sigstore/core';
import type { SignedEntity, TrustMaterial } from '@sigstore/verify';
import { parseBundle } from '../../src/sigstore/bundle.ts';
import type { Bundle } from '../../src/sigstore/bundle.ts';
import { checkAhead, foreseenChecks, withCheckedSignatures } from '../../src/sigstore/parallel-checks.ts';
import type { SignatureCheck } from '../../src/sigstore/parallel-checks.ts';
import { signedEntity } from '../../src/sigstore/signed-entity.ts';
import { loadTrustRoot } from '../../src/sigstore/trusted-root.ts';
import type { TrustRootSnapshot } from '../../src/sigstore/trusted-root.ts';
import { CachedKeyVerifier } from '../../src/sigstore/verifier.ts';
import { verifyBundle } from '../../src/sigstore/verify.ts';
import type { VerifyInput } from '../../src/sigstore/verify.ts';
import { PROD_ROOT_PATH, ext, prodRoot, readJson } from './ext.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const nodeCrypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
const syncVerify = nodeCrypto.verify;
/** Runs `body`, counting node:crypto's synchronous verify calls (a callback call is the async one). */
function countingSyncChecks<T>(body: () => T): { result: T; calls: number } {
  let calls = 0;
  const patch = nodeCrypto as unknown as Record<string, unknown>;
  patch['verify'] = (...args: unknown[]) => {
    if (typeof args[4] !== 'function') calls++;
    return (syncVerify as (...a: unknown[]) => unknown)(...args);
  };
  try {
    return { result: body(), calls };
  } finally {
    patch['verify'] = syncVerify;
  }
}

const flipped = (bytes: Buffer, at = bytes.length - 1): Buffer => {
  const copy = Buffer.from(bytes);
  copy[at]! ^= 0x01;
  return copy;
};

function signedCheck(): SignatureCheck & { other: NodeCrypto.KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const data = Buffer.from('the signed bytes of one verification');
  return {
    algorithm: 'sha384',
    data,
    key: publicKey,
    signature: sign('sha384', data, privateKey),
    other: generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey,
  };
}

const libraryVerify = (c: Pick<SignatureCheck, 'algorithm' | 'data' | 'key' | 'signature'>): boolean =>
  sigstoreCrypto.verify(c.data, c.key, c.signature, c.algorithm);

test('a check passed ahead is answered without OpenSSL again, for exactly its inputs', async () => {
  const check = signedCheck();
  const checked = await checkAhead([check]);
  assert.equal(checked.size, 1);
  withCheckedSignatures(checked, () => {
    assert.deepEqual(
      countingSyncChecks(() => libraryVerify(check)),
      { result: true, calls: 0 },
    );
    // The same key material in another object is the same key.
    const sameKey = createPublicKey({
      key: check.key.export({ format: 'der', type: 'spki' }),
      format: 'der',
      type: 'spki',
    });
    assert.deepEqual(
      countingSyncChecks(() => libraryVerify({ ...check, key: sameKey })),
      {
        result: true,
        calls: 0,
      },
    );
    // One byte, another key or another algorithm name: OpenSSL checks it, and it fails.
    for (const other of [
      { ...check, data: flipped(check.data) },
      { ...check, data: flipped(check.data, 0) },
      { ...check, data: Buffer.concat([check.data, Buffer.from([0])]) },
      { ...check, signature: flipped(check.signature, 20) },
      { ...check, key: check.other },
      { ...check, algorithm: 'sha256' },
      { ...check, algorithm: 'SHA384' },
      { ...check, algorithm: undefined },
    ])
      assert.deepEqual(countingSyncChecks(() => libraryVerify(other)).calls, 1);
    assert.equal(libraryVerify({ ...check, key: check.other }), false);
    assert.equal(libraryVerify({ ...check, data: flipped(check.data) }), false);
  });
});

test('answers found ahead belong to one verification: none outlives it, none reaches another', async () => {
  const check = signedCheck();
  const checked = await checkAhead([check]);
  withCheckedSignatures(checked, () => assert.equal(countingSyncChecks(() => libraryVerify(check)).calls, 0));
  assert.deepEqual(
    countingSyncChecks(() => libraryVerify(check)),
    { result: true, calls: 1 },
  );
  const another = await checkAhead([signedCheck()]);
  withCheckedSignatures(another, () =>
    assert.deepEqual(
      countingSyncChecks(() => libraryVerify(check)),
      { result: true, calls: 1 },
    ),
  );
  // A verification that throws leaves nothing behind either.
  assert.throws(() =>
    withCheckedSignatures(checked, () => {
      throw new Error('a failed verification');
    }),
  );
  assert.equal(countingSyncChecks(() => libraryVerify(check)).calls, 1);
});

test('a check that fails or throws ahead is not remembered; the library runs it and it fails', async () => {
  const check = signedCheck();
  const bad = { ...check, signature: flipped(check.signature, 20) };
  const unknownAlgorithm = { ...check, algorithm: 'no-such-digest' };
  const checked = await checkAhead([bad, unknownAlgorithm, { ...check, key: check.other }]);
  assert.equal(checked.size, 0);
  withCheckedSignatures(checked, () => {
    assert.deepEqual(
      countingSyncChecks(() => libraryVerify(bad)),
      { result: false, calls: 1 },
    );
    assert.deepEqual(
      countingSyncChecks(() => libraryVerify(unknownAlgorithm)),
      { result: false, calls: 1 },
    );
  });
});

test('what was checked ahead is a private copy: bytes the caller changes afterwards are not it', async () => {
  const check = signedCheck();
  const data = Buffer.from(check.data);
  const checked = await checkAhead([{ ...check, data }]);
  data[0]! ^= 0x01; // the caller's buffer, changed after the check
  withCheckedSignatures(checked, () => {
    assert.deepEqual(
      countingSyncChecks(() => libraryVerify({ ...check, data })),
      { result: false, calls: 1 },
    );
    assert.deepEqual(
      countingSyncChecks(() => libraryVerify(check)),
      { result: true, calls: 0 },
    );
  });
});

const RS_BUNDLE = ext('sigstore-rs/tests/data/bundle_v03.json');
const RS_DIGEST = 'sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172';
const rsInput = (json: Json = readJson(RS_BUNDLE) as Json): VerifyInput => ({
  bundle: parseBundle(json),
  trust: prodRoot().material,
  signer: { kind: 'keyless' },
  content: { kind: 'image', digest: RS_DIGEST },
});

async function verifyAhead(input: VerifyInput): Promise<{ outcome: string; calls: number; ahead: number }> {
  const checked = await checkAhead(foreseenChecks(input.bundle, input.trust));
  const { result, calls } = countingSyncChecks(() => withCheckedSignatures(checked, () => outcomeOf(input)));
  return { outcome: result, calls, ahead: checked.size };
}

function outcomeOf(input: VerifyInput): string {
  try {
    const verified = verifyBundle(input);
    return `verified ${verified.identity.kind} ${verified.signedAt.map((d) => d.toISOString()).join(',')}`;
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return `${e.code}: ${e.message}`;
  }
}

test('a cosign v3 bundle: its leaf and TSA token checks run ahead, the rest as before, the same answer', async () => {
  const plain = countingSyncChecks(() => outcomeOf(rsInput())); // the root's own pairs remembered now
  const again = countingSyncChecks(() => outcomeOf(rsInput()));
  const ahead = await verifyAhead(rsInput());
  assert.match(plain.result, /^verified certificate/);
  assert.equal(ahead.outcome, plain.result);
  assert.equal(ahead.ahead, 2);
  assert.equal(ahead.calls, again.calls - 2);
});

test('a bad leaf or token signature fails with the same code and message with the checks ahead', async () => {
  const json = readJson(RS_BUNDLE) as Json;
  const material = json.verificationMaterial;
  const leaf = Buffer.from(material.certificate.rawBytes, 'base64');
  const token = Buffer.from(
    material.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp,
    'base64',
  );
  const tampered = [
    (j: Json) => (j.verificationMaterial.certificate.rawBytes = flipped(leaf).toString('base64')),
    (j: Json) =>
      (j.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp =
        flipped(token).toString('base64')),
  ];
  for (const tamper of tampered) {
    const variant = structuredClone(json);
    tamper(variant);
    const plain = outcomeOf(rsInput(variant));
    const ahead = await verifyAhead(rsInput(variant));
    assert.match(plain, /^SIGSTORE_/);
    assert.equal(ahead.outcome, plain);
    // Of the two P-384 checks, only the untouched one passed ahead; the tampered one runs again, and fails.
    assert.equal(ahead.ahead, 1);
  }
});

const CASES = ext('sigstore-conformance/bundle-verify');
const roots = new Map<string, TrustRootSnapshot | undefined>();
const rootAt = (path: string): TrustRootSnapshot | undefined => {
  if (!roots.has(path)) {
    try {
      roots.set(path, loadTrustRoot(readFileSync(path), path));
    } catch {
      roots.set(path, undefined); // a root sigward refuses (a _fail case)
    }
  }
  return roots.get(path);
};

function stepsOutcome(entity: () => SignedEntity, trust: TrustMaterial): string {
  try {
    return `verified ${new CachedKeyVerifier(trust).verify(entity()).key.export({ format: 'der', type: 'spki' }).toString('base64')}`;
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return `${e.constructor.name} ${e.code}: ${e.message}`;
  }
}

test('every conformance bundle: the same outcome with its checks ahead as without', async () => {
  let compared = 0;
  let answeredAhead = 0;
  for (const name of readdirSync(CASES).sort()) {
    const dir = join(CASES, name);
    if (!existsSync(join(dir, 'bundle.sigstore.json'))) continue;
    const root = rootAt(
      existsSync(join(dir, 'trusted_root.json')) ? join(dir, 'trusted_root.json') : PROD_ROOT_PATH,
    );
    if (root === undefined) continue;
    let bundle: Bundle;
    try {
      bundle = parseBundle(readFileSync(join(dir, 'bundle.sigstore.json')));
    } catch {
      continue;
    }
    const artifact = readFileSync(
      existsSync(join(dir, 'artifact')) ? join(dir, 'artifact') : join(CASES, 'a.txt'),
    );
    let trust: TrustMaterial = root.material;
    if (existsSync(join(dir, 'key.pub'))) {
      let publicKey: NodeCrypto.KeyObject;
      try {
        publicKey = createPublicKey(readFileSync(join(dir, 'key.pub')));
      } catch {
        continue; // a key node:crypto cannot read (a _fail case)
      }
      trust = { ...trust, publicKey: () => ({ publicKey, validFor: () => true }) };
    }
    const entity = (): SignedEntity => signedEntity({ bundle, artifact });
    const plain = stepsOutcome(entity, trust);
    const checked = await checkAhead(foreseenChecks(bundle, trust));
    assert.equal(
      withCheckedSignatures(checked, () => stepsOutcome(entity, trust)),
      plain,
      name,
    );
    compared++;
    if (checked.size > 0) answeredAhead++;
  }
  assert.ok(compared >= 40 && answeredAhead >= 40, `${compared} cases, ${answeredAhead} with checks ahead`);
});
