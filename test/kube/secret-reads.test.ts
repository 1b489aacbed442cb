// kube/'s Secret readers over the real client (kube/client) (against test/support/secrets-api.ts): a key Secret is
// re-read once its last read is older than the refresh interval (so a rotation is seen within seconds),
// concurrent askers share one read, failures name the Secret and never its content; a policy's pull
// secret is an error naming it when it is missing or holds no docker config.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SigwardError } from '../../src/errors.ts';
import { PullSecretKeychains } from '../../src/kube/pull-secrets.ts';
import { SecretPublicKeys } from '../../src/kube/public-keys.ts';
import { startSecretsApi } from '../support/secrets-api.ts';
import type { SecretsApi } from '../support/secrets-api.ts';

let api: SecretsApi;
before(async () => {
  api = await startSecretsApi();
});
after(() => api.close());

const pem = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
const spki = (key: { export(o: { type: 'spki'; format: 'der' }): Buffer }) =>
  key.export({ type: 'spki', format: 'der' }).toString('hex');
const rejectsWith = (code: string, message: RegExp) => (error: unknown) =>
  error instanceof SigwardError && error.code === code && message.test(error.message);

describe('SecretPublicKeys', () => {
  test('re-read after the refresh interval: a rotation is seen, a deletion fails; one read per interval', async () => {
    const first = pem();
    api.set('keys', 'rotating', { 'cosign.pub': first });
    const clock = { now: 0 };
    const keys = new SecretPublicKeys(api.core, { refreshMs: 5000, now: () => clock.now });
    const ref = { namespace: 'keys', name: 'rotating', key: 'cosign.pub' };
    const reads = () => api.reads.filter((r) => r === 'keys/rotating').length;

    const concurrent = await Promise.all(Array.from({ length: 20 }, () => keys.publicKey(ref)));
    assert.ok(concurrent.every((k) => k === concurrent[0]));
    assert.equal(reads(), 1);

    const second = pem();
    api.set('keys', 'rotating', { 'cosign.pub': second });
    clock.now = 4999;
    assert.equal(await keys.publicKey(ref), concurrent[0], 'within the interval: no read');
    assert.equal(reads(), 1);
    clock.now = 5000;
    const rotated = await keys.publicKey(ref);
    assert.notEqual(spki(rotated), spki(concurrent[0]!));
    assert.equal(rotated.export({ type: 'spki', format: 'pem' }).toString(), second);
    assert.equal(reads(), 2);

    api.delete('keys', 'rotating');
    clock.now = 10_000;
    await assert.rejects(
      keys.publicKey(ref),
      rejectsWith('POLICY_KEY_UNAVAILABLE', /^the key Secret keys\/rotating does not exist$/),
    );
    // The failure is kept for the interval too: a missing Secret is not read on every admission.
    await assert.rejects(keys.publicKey(ref), rejectsWith('POLICY_KEY_UNAVAILABLE', /does not exist/));
    assert.equal(reads(), 3);
  });

  test('a re-read that finds the key changed (rotated, gone, back) tells the listeners; the same key does not', async () => {
    const first = pem();
    api.set('keys', 'heard', { 'cosign.pub': first });
    const clock = { now: 0 };
    const keys = new SecretPublicKeys(api.core, { refreshMs: 5000, now: () => clock.now });
    const ref = { namespace: 'keys', name: 'heard', key: 'cosign.pub' };
    let heard = 0;
    const stop = keys.onChange(() => heard++);
    await keys.publicKey(ref);
    clock.now = 5000;
    await keys.publicKey(ref);
    assert.equal(heard, 0, 'the first read and an unchanged re-read are not changes');
    api.set('keys', 'heard', { 'cosign.pub': pem() });
    clock.now = 10_000;
    await keys.publicKey(ref);
    assert.equal(heard, 1, 'rotated');
    api.delete('keys', 'heard');
    clock.now = 15_000;
    await assert.rejects(keys.publicKey(ref));
    clock.now = 20_000;
    await assert.rejects(keys.publicKey(ref));
    assert.equal(heard, 2, 'gone once, then still gone');
    api.set('keys', 'heard', { 'cosign.pub': first });
    clock.now = 25_000;
    stop();
    await keys.publicKey(ref);
    assert.equal(heard, 2, 'no longer listening');
  });

  test('a missing data key and a value that is not a PEM public key name the Secret, not its content', async () => {
    api.set('keys', 'odd', { other: pem(), 'cosign.pub': 'not-a-key-0123456789' });
    const keys = new SecretPublicKeys(api.core);
    await assert.rejects(
      keys.publicKey({ namespace: 'keys', name: 'odd', key: 'release.pub' }),
      rejectsWith('POLICY_KEY_UNAVAILABLE', /^the key Secret keys\/odd has no key release\.pub$/),
    );
    await assert.rejects(
      keys.publicKey({ namespace: 'keys', name: 'odd', key: 'cosign.pub' }),
      (error: unknown) =>
        rejectsWith(
          'POLICY_KEY_INVALID',
          /^the key Secret keys\/odd, key cosign\.pub, is not a PEM public key$/,
        )(error) && !(error as Error).message.includes('not-a-key'),
    );
  });
});

describe('PullSecretKeychains.secretKeychain', () => {
  test("a policy's pull secret: its credentials; missing or not a docker config: an error naming it", async () => {
    const config = {
      auths: { 'sigs.example': { auth: Buffer.from('reader:reader-pw').toString('base64') } },
    };
    api.set(
      'team',
      'sig-pull',
      { '.dockerconfigjson': JSON.stringify(config) },
      'kubernetes.io/dockerconfigjson',
    );
    api.set('team', 'opaque', { token: 'abc' });
    const secrets = new PullSecretKeychains(api.core);
    const keychain = await secrets.secretKeychain({ namespace: 'team', name: 'sig-pull' });
    assert.deepEqual(
      keychain.credentialsFor('sigs.example', 'org/signatures').map((c) => c.kind === 'basic' && c.username),
      ['reader'],
    );
    await assert.rejects(
      secrets.secretKeychain({ namespace: 'team', name: 'absent' }),
      rejectsWith(
        'POLICY_PULL_SECRET_UNAVAILABLE',
        /^the pull secret team\/absent does not exist \(signatureRepository\.pullSecretRef\)$/,
      ),
    );
    await assert.rejects(
      secrets.secretKeychain({ namespace: 'team', name: 'opaque' }),
      rejectsWith(
        'POLICY_PULL_SECRET_UNAVAILABLE',
        /^the pull secret team\/opaque holds no usable \.dockerconfigjson/,
      ),
    );
  });
});
