import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges, pickChallenge } from '../../src/oci/challenge.ts';

test('Docker Hub bearer challenge', () => {
  const [c] = parseChallenges(
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
  );
  assert.deepEqual(c, {
    scheme: 'bearer',
    params: {
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/nginx:pull',
    },
  });
});

test('scope with several actions and a comma inside quotes', () => {
  const [c] = parseChallenges('Bearer realm="https://r/t", scope="repository:a/b:pull,push"');
  assert.equal(c?.params['scope'], 'repository:a/b:pull,push');
});

test('basic challenge, case-insensitive scheme and names, token values', () => {
  assert.deepEqual(parseChallenges('BASIC Realm=registry'), [
    { scheme: 'basic', params: { realm: 'registry' } },
  ]);
});

test('several challenges in one header and across headers', () => {
  const challenges = parseChallenges([
    'Basic realm="x", Bearer realm="https://a/token",service="s"',
    'Negotiate abc123==',
  ]);
  assert.deepEqual(
    challenges.map((c) => c.scheme),
    ['basic', 'bearer', 'negotiate'],
  );
  assert.equal(challenges[1]?.params['service'], 's');
  assert.equal(challenges[2]?.params['token68'], 'abc123==');
  assert.equal(pickChallenge(challenges)?.scheme, 'bearer');
});

test('escaped quotes and spaces around =', () => {
  const [c] = parseChallenges('Bearer realm = "https://r/t?a=\\"b\\"" , service="s"');
  assert.equal(c?.params['realm'], 'https://r/t?a="b"');
  assert.equal(c?.params['service'], 's');
});

test('garbage does not throw, and yields no usable challenge', () => {
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges(''), []);
  assert.equal(pickChallenge(parseChallenges(',,, "quoted"')), undefined);
  const [c] = parseChallenges('Bearer realm="unterminated');
  assert.equal(c?.params['realm'], 'unterminated');
});

test('a scheme without parameters', () => {
  assert.deepEqual(parseChallenges('Basic'), [{ scheme: 'basic', params: {} }]);
  assert.deepEqual(pickChallenge(parseChallenges('Basic')), { scheme: 'basic', params: {} });
});
