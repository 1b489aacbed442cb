// Which hosts are ECR registries (and their account and region), and how tokens are kept: the pure
// parts of src/cloud, with a recorded fetcher and a clock in place of AWS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { EcrCredentials, decodeAuthorizationToken, parseEcrRegistry } from '../../src/cloud/index.ts';
import type { EcrRegistry, EcrTokenFetcher } from '../../src/cloud/index.ts';
import { SigwardError } from '../../src/errors.ts';

test('ECR hosts of every partition, FIPS and dual-stack, give account and region', () => {
  const cases: Array<[string, EcrRegistry]> = [
    [
      '111122223333.dkr.ecr.eu-west-1.amazonaws.com',
      { account: '111122223333', region: 'eu-west-1', fips: false },
    ],
    [
      '111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com',
      { account: '111122223333', region: 'us-gov-west-1', fips: true },
    ],
    [
      '111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn',
      { account: '111122223333', region: 'cn-north-1', fips: false },
    ],
    [
      '111122223333.dkr.ecr.us-iso-east-1.c2s.ic.gov',
      { account: '111122223333', region: 'us-iso-east-1', fips: false },
    ],
    [
      '111122223333.dkr.ecr.us-isob-east-1.sc2s.sgov.gov',
      { account: '111122223333', region: 'us-isob-east-1', fips: false },
    ],
    ['111122223333.dkr-ecr.us-east-2.on.aws', { account: '111122223333', region: 'us-east-2', fips: false }],
    [
      '111122223333.DKR.ECR.EU-WEST-1.AMAZONAWS.COM',
      { account: '111122223333', region: 'eu-west-1', fips: false },
    ],
  ];
  for (const [host, expected] of cases) assert.deepEqual(parseEcrRegistry(host), expected, host);
});

test('look-alikes are not ECR: no AWS call is made for them', () => {
  for (const host of [
    'public.ecr.aws',
    '11112222333.dkr.ecr.eu-west-1.amazonaws.com', // 11 digits
    '111122223333.dkr.ecr.eu-west-1.amazonaws.com:443',
    '111122223333.dkr.ecr.eu-west-1.amazonaws.com.evil.io',
    'evil111122223333.dkr.ecr.eu-west-1.amazonaws.com',
    '111122223333.dkr.ecr..amazonaws.com',
    'docker.io',
    '127.0.0.1:5000',
  ]) {
    assert.equal(parseEcrRegistry(host), undefined, host);
  }
  const keychain = new EcrCredentials({ fetchToken: () => assert.fail('no exchange') }).keychain();
  assert.deepEqual(keychain.credentialsFor('ghcr.io', 'org/app'), []);
});

test('GetAuthorizationToken answers decode to AWS:<password>; malformed ones are coded errors', () => {
  const token = Buffer.from('AWS:secret-password').toString('base64');
  assert.deepEqual(decodeAuthorizationToken(token), {
    kind: 'basic',
    username: 'AWS',
    password: 'secret-password',
  });
  assert.throws(
    () => decodeAuthorizationToken(Buffer.from('no-colon').toString('base64')),
    (e) => e instanceof SigwardError && e.code === 'REGISTRY_UNAUTHORIZED' && !e.message.includes('no-colon'),
  );
});

const host = '111122223333.dkr.ecr.eu-west-1.amazonaws.com';

function recorder(lifetimeMs: number, clock: { now: number }) {
  const calls: EcrRegistry[] = [];
  let release: (() => void) | undefined;
  const gate = { hold: false };
  const fetchToken: EcrTokenFetcher = async (registry) => {
    calls.push(registry);
    if (gate.hold) await new Promise<void>((resolve) => (release = resolve));
    return {
      credential: { kind: 'basic', username: 'AWS', password: `token-${calls.length}` },
      expiresAt: clock.now + lifetimeMs,
    };
  };
  return { calls, fetchToken, gate, release: () => release?.() };
}

async function passwordOf(credentials: EcrCredentials, refresh = false): Promise<string> {
  const [credential] = credentials.keychain().credentialsFor(host, 'team/app');
  assert.equal(credential?.kind, 'exchange');
  if (credential?.kind !== 'exchange') throw new Error('unreachable');
  const [obtained] = [await credential.obtain({ refresh })].flat();
  if (obtained?.credential.kind !== 'basic') throw new Error('ECR yields one username and password');
  return obtained.credential.password;
}

test('a token is kept until the refresh margin before its expiry, then exchanged again', async () => {
  const clock = { now: 1_000_000 };
  const twelveHours = 12 * 3600_000;
  const fake = recorder(twelveHours, clock);
  const credentials = new EcrCredentials({
    fetchToken: fake.fetchToken,
    now: () => clock.now,
    refreshMarginMs: 30 * 60_000,
  });
  assert.equal(await passwordOf(credentials), 'token-1');
  assert.deepEqual(fake.calls[0], { account: '111122223333', region: 'eu-west-1', fips: false });
  clock.now += twelveHours - 30 * 60_000 - 1;
  assert.equal(await passwordOf(credentials), 'token-1');
  clock.now += 1;
  assert.equal(await passwordOf(credentials), 'token-2');
  assert.equal(fake.calls.length, 2);
  // A registry that refused the token gets a new one at once.
  assert.equal(await passwordOf(credentials, true), 'token-3');
});

test('a token already within the margin (an emulator’s fixed date) is used once and not kept', async () => {
  const clock = { now: 1_000_000 };
  const fake = recorder(60_000, clock);
  const credentials = new EcrCredentials({ fetchToken: fake.fetchToken, now: () => clock.now });
  assert.equal(await passwordOf(credentials), 'token-1');
  assert.equal(await passwordOf(credentials), 'token-2');
});

test('concurrent callers share one exchange per registry', async () => {
  const clock = { now: 1_000_000 };
  const fake = recorder(12 * 3600_000, clock);
  fake.gate.hold = true;
  const credentials = new EcrCredentials({ fetchToken: fake.fetchToken, now: () => clock.now });
  const all = Promise.all([passwordOf(credentials), passwordOf(credentials), passwordOf(credentials)]);
  while (fake.calls.length === 0) await turn();
  fake.release();
  assert.deepEqual(await all, ['token-1', 'token-1', 'token-1']);
  assert.equal(fake.calls.length, 1);
});

test('an AWS failure becomes REGISTRY_UNAUTHORIZED with the error name and no opaque secret', async () => {
  const secret = 'AQoDYXdzEJr1K2xlongSessionTokenThatMustNeverBeShown0123456789';
  const failing = new EcrCredentials({
    fetchToken: async () => {
      const error = new Error(`The security token included in the request is invalid: ${secret}`);
      error.name = 'UnrecognizedClientException';
      throw error;
    },
  });
  await assert.rejects(passwordOf(failing), (error) => {
    assert.ok(error instanceof SigwardError);
    assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
    assert.equal(error.details['awsError'], 'UnrecognizedClientException');
    assert.match(
      error.message,
      /UnrecognizedClientException: The security token included in the request is invalid/,
    );
    assert.ok(!error.message.includes(secret));
    return true;
  });
});
