// bench/crypto-trace.ts records what a run asks of node:crypto, with inputs to replay, and leaves
// node:crypto as it found it: the bench's floor per cold case (README "Speed and memory") rests on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as esmCrypto from 'node:crypto';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as NodeCrypto from 'node:crypto';
import { timeOperations, traceCrypto } from '../../bench/crypto-trace.ts';

const cjsCrypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const data = Buffer.from('the signed bytes');
const signature = sign('sha256', data, privateKey);

test('every operation is recorded, through ESM imports and require alike, and replays with the same answer', async () => {
  const answers: unknown[] = [];
  const ops = await traceCrypto(
    async () => {
      answers.push(verify('sha256', data, publicKey, signature)); // this module's ESM binding
      await Promise.resolve(); // an asynchronous run stays traced across its awaits
      answers.push(cjsCrypto.verify('sha256', data, publicKey, Buffer.alloc(signature.length)));
      answers.push(cjsCrypto.createHash('sha256').update('ab').update('c').digest('hex'));
    },
    (key) => (key === publicKey ? 'the test key' : ''),
  );
  assert.deepEqual(
    ops.map((op) => op.what),
    [
      'verify ec/prime256v1, the test key, sha256, 16 bytes',
      'verify ec/prime256v1, the test key, sha256, 16 bytes',
      'createHash sha256, 2 update(s), 3 bytes',
    ],
  );
  assert.deepEqual(answers.slice(0, 2), [true, false]);
  assert.equal(ops[0]!.replay(), true);
  assert.equal(ops[1]!.replay(), false);
  assert.equal((ops[2]!.replay() as Buffer).toString('hex'), answers[2]);
});

test('node:crypto is restored after the trace, also when the run throws', async () => {
  const before = { esm: esmCrypto.verify, cjs: cjsCrypto.verify, hash: cjsCrypto.createHash };
  await assert.rejects(
    traceCrypto(() => {
      throw new Error('the run failed');
    }),
    /the run failed/,
  );
  assert.equal(esmCrypto.verify, before.esm);
  assert.equal(cjsCrypto.verify, before.cjs);
  assert.equal(cjsCrypto.createHash, before.hash);
  const after = await traceCrypto(() => undefined);
  assert.deepEqual(after, []);
  assert.equal(createHash('sha256').update('x').digest('hex').length, 64); // nothing recorded outside
});

test('each operation is timed alone: µs of CPU per call, a signature check above a small hash', async () => {
  const ops = await traceCrypto(() => {
    verify('sha256', data, publicKey, signature);
    createHash('sha256').update('x').digest();
  });
  const [check, hash] = timeOperations(ops, 20, 3);
  assert.equal(check!.what, ops[0]!.what);
  assert.ok(check!.us > 0 && hash!.us > 0);
  assert.ok(check!.us > hash!.us, `${check!.us} µs for the check, ${hash!.us} µs for the hash`);
});
