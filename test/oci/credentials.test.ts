import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import {
  anonymousKeychain,
  combineKeychains,
  dockerConfigKeychain,
  parseDockerConfigJson,
  registryOfAuthKey,
  staticKeychain,
} from '../../src/oci/auth.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

test('auth keys name a registry and maybe a path', () => {
  assert.deepEqual(registryOfAuthKey('https://index.docker.io/v1/'), {
    registry: 'index.docker.io',
    path: '',
  });
  assert.deepEqual(registryOfAuthKey('docker.io'), { registry: 'index.docker.io', path: '' });
  assert.deepEqual(registryOfAuthKey('registry-1.docker.io'), { registry: 'index.docker.io', path: '' });
  assert.deepEqual(registryOfAuthKey('http://Reg.Example:5000/v2/'), {
    registry: 'reg.example:5000',
    path: '',
  });
  assert.deepEqual(registryOfAuthKey('reg.io/team/'), { registry: 'reg.io', path: 'team' });
  assert.deepEqual(registryOfAuthKey('[::1]:5000'), { registry: '[::1]:5000', path: '' });
  assert.equal(registryOfAuthKey(''), undefined);
});

const config = parseDockerConfigJson(
  JSON.stringify({
    auths: {
      'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') },
      'reg.example.com': { username: 'u', password: 'p:with:colons' },
      'reg.example.com/team': { auth: b64('team:secret') },
      'ghcr.io': { identitytoken: 'refresh-abc', username: '<token>' },
      'tok.example': { registrytoken: 'bearer-xyz' },
      'empty.example': {},
      '127.0.0.1:5000': { auth: b64('local:pw') },
    },
  }),
  'secret default/regcred',
);
const keychain = dockerConfigKeychain([config]);

test('Docker Hub under any of its names', () => {
  assert.deepEqual(keychain.credentialsFor('index.docker.io', 'library/nginx'), [
    { kind: 'basic', username: 'hubuser', password: 'hubpass' },
  ]);
});

test('exact host, never a substring or suffix', () => {
  assert.deepEqual(keychain.credentialsFor('reg.example.com.evil.io', 'x'), []);
  assert.deepEqual(keychain.credentialsFor('evilreg.example.com', 'x'), []);
  assert.deepEqual(keychain.credentialsFor('example.com', 'x'), []);
  assert.deepEqual(keychain.credentialsFor('reg.example.com:5000', 'x'), []);
  assert.deepEqual(keychain.credentialsFor('127.0.0.1', 'x'), []);
  assert.equal(keychain.credentialsFor('127.0.0.1:5000', 'x').length, 1);
  assert.equal(keychain.credentialsFor('REG.EXAMPLE.COM', 'x').length, 1);
});

test('a path-scoped entry applies to that path and below, before the host entry', () => {
  assert.deepEqual(keychain.credentialsFor('reg.example.com', 'team/app'), [
    { kind: 'basic', username: 'team', password: 'secret' },
    { kind: 'basic', username: 'u', password: 'p:with:colons' },
  ]);
  assert.deepEqual(keychain.credentialsFor('reg.example.com', 'teamster/app'), [
    { kind: 'basic', username: 'u', password: 'p:with:colons' },
  ]);
});

test('identity and registry tokens; entries without credentials are skipped', () => {
  assert.deepEqual(keychain.credentialsFor('ghcr.io', 'o/a'), [
    { kind: 'identity-token', identityToken: 'refresh-abc', username: '<token>' },
  ]);
  assert.deepEqual(keychain.credentialsFor('tok.example', 'a'), [
    { kind: 'registry-token', token: 'bearer-xyz' },
  ]);
  assert.deepEqual(keychain.credentialsFor('empty.example', 'a'), []);
});

test('several configs keep their order; keychains combine', () => {
  const second = parseDockerConfigJson(
    JSON.stringify({ auths: { 'reg.example.com': { auth: b64('two:2') } } }),
  );
  const both = dockerConfigKeychain([config, second]);
  assert.deepEqual(
    both.credentialsFor('reg.example.com', 'x').map((c) => (c.kind === 'basic' ? c.username : c.kind)),
    ['u', 'two'],
  );
  const combined = combineKeychains(
    staticKeychain({ 'x.io': { kind: 'registry-token', token: 't' } }),
    keychain,
  );
  assert.equal(combined.credentialsFor('x.io', 'a').length, 1);
  assert.equal(combined.credentialsFor('ghcr.io', 'a').length, 1);
});

test('combining with the anonymous keychain adds nothing, and one keychain left is the keychain itself (one registry client for every workload without pull secrets)', () => {
  const cloud = staticKeychain({ 'x.io': { kind: 'registry-token', token: 't' } });
  assert.equal(combineKeychains(anonymousKeychain, cloud), cloud);
  assert.equal(combineKeychains(cloud, anonymousKeychain), cloud);
  assert.equal(combineKeychains(anonymousKeychain), anonymousKeychain);
  assert.equal(combineKeychains(), anonymousKeychain);
  const both = combineKeychains(anonymousKeychain, keychain, anonymousKeychain, cloud);
  assert.deepEqual(both.credentialsFor('x.io', 'a'), [
    ...keychain.credentialsFor('x.io', 'a'),
    ...cloud.credentialsFor('x.io', 'a'),
  ]);
  assert.deepEqual(anonymousKeychain.credentialsFor('x.io', 'a'), []);
});

test('the legacy .dockercfg form (no "auths")', () => {
  const legacy = parseDockerConfigJson(JSON.stringify({ 'reg.io': { auth: b64('a:b') } }));
  assert.equal(dockerConfigKeychain([legacy]).credentialsFor('reg.io', 'x').length, 1);
});

test('invalid configs fail with the source named and no secret quoted', () => {
  const cases = [
    'not json {hunter2',
    JSON.stringify([1]),
    JSON.stringify({ auths: 'x' }),
    JSON.stringify({ auths: { 'reg.io': { auth: 'hunter2!!' } } }),
    JSON.stringify({ auths: { 'reg.io': { auth: b64('hunter2-no-colon') } } }),
    JSON.stringify({ auths: { 'reg.io': { password: 12 } } }),
    JSON.stringify({ auths: { 'reg.io': 'hunter2' } }),
    // A key with credentials written into it, as a URL or without a scheme: named without them.
    JSON.stringify({ auths: { 'https://bob:hunter2@reg.io': { auth: b64('bob:pw') } } }),
    JSON.stringify({ auths: { 'bob:hunter2@reg.io/team': { auth: b64('bob:pw') } } }),
    JSON.stringify({ auths: { 'bob:hunter2@reg.io': { auth: 'hunter2!!' } } }),
  ];
  for (const text of cases) {
    assert.throws(
      () => parseDockerConfigJson(text, 'secret ns/name'),
      (e: unknown) =>
        e instanceof SigwardError &&
        e.code === 'CREDENTIALS_INVALID' &&
        e.message.startsWith('secret ns/name') &&
        !e.message.includes('hunter2') &&
        !JSON.stringify(e.details).includes('hunter2'),
      text,
    );
  }
});
