// Which hosts get a Google or Azure token, the shared exchange cache (timeout, single flight, the
// margin), and which Entra scope each Azure cloud is asked for: the pure parts of src/cloud, with
// recorded sources and a clock in place of the clouds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import {
  AcrCredentials,
  ExchangeCache,
  GcpCredentials,
  isGcpRegistry,
  parseAcrRegistry,
  type AzureCloud,
} from '../../src/cloud/index.ts';
import { SigwardError } from '../../src/errors.ts';
import { rejectsWithCode } from '../support/cloud-assertions.ts';
import { HttpTransport, type ObtainedCredential } from '../../src/oci/index.ts';

/** The password of an exchange's (first) credential: exchanges may yield one or several. */
function passwordOf(obtained: ObtainedCredential | readonly ObtainedCredential[]): string | undefined {
  const [one] = [obtained].flat();
  return one?.credential.kind === 'basic' ? one.credential.password : undefined;
}

test('Google registry hosts: Artifact Registry Docker hosts and gcr.io, nothing that only looks like them', () => {
  for (const host of [
    'gcr.io',
    'eu.gcr.io',
    'us.gcr.io',
    'asia.gcr.io',
    'europe-docker.pkg.dev',
    'us-central1-docker.pkg.dev',
    'EU.GCR.IO',
  ]) {
    assert.equal(isGcpRegistry(host), true, host);
  }
  for (const host of [
    'gcr.io:443',
    'gcr.io.evil.com',
    'evilgcr.io',
    'a.b.gcr.io',
    'europe-maven.pkg.dev',
    'docker.pkg.dev',
    'europe-docker.pkg.dev.evil.com',
    'pkg.dev',
    'ghcr.io',
  ]) {
    assert.equal(isGcpRegistry(host), false, host);
  }
});

test('ACR login servers of each cloud; data endpoints, ports and look-alikes are not', () => {
  assert.deepEqual(parseAcrRegistry('Contoso.azurecr.io'), { host: 'contoso.azurecr.io', cloud: 'public' });
  assert.deepEqual(parseAcrRegistry('contoso.azurecr.cn'), { host: 'contoso.azurecr.cn', cloud: 'china' });
  assert.deepEqual(parseAcrRegistry('contoso.azurecr.us'), { host: 'contoso.azurecr.us', cloud: 'usgov' });
  for (const host of [
    'contoso.westeurope.data.azurecr.io',
    'contoso.azurecr.io:443',
    'contoso.azurecr.io.evil.com',
    'azurecr.io',
    'contoso.azurecr.de',
    '-contoso.azurecr.io',
  ]) {
    assert.equal(parseAcrRegistry(host), undefined, host);
  }
});

test('each Azure cloud is asked for its own scope: ACR audience in public, Resource Manager in China and US Gov', async () => {
  const asked: Array<[AzureCloud, string]> = [];
  const transport = new HttpTransport();
  try {
    const acr = new AcrCredentials({
      transport,
      tokenSource: async (cloud, scope) => {
        asked.push([cloud, scope]);
        throw new Error('recorded');
      },
    });
    for (const host of ['a.azurecr.io', 'b.azurecr.cn', 'c.azurecr.us']) {
      const [credential] = acr.keychain().credentialsFor(host, 'repo');
      assert.equal(credential?.kind, 'exchange');
      if (credential?.kind === 'exchange')
        await assert.rejects(credential.obtain({ refresh: false }), SigwardError);
    }
    assert.deepEqual(asked, [
      ['public', 'https://containerregistry.azure.net/.default'],
      ['china', 'https://management.chinacloudapi.cn/.default'],
      ['usgov', 'https://management.usgovcloudapi.net/.default'],
    ]);
    assert.deepEqual(acr.keychain().credentialsFor('ghcr.io', 'repo'), []);
  } finally {
    await transport.close();
  }
});

test('the Google token: oauth2accesstoken Basic, kept until the margin before expiry, one exchange for all hosts', async () => {
  let now = 1_000_000;
  let asked = 0;
  const gcp = new GcpCredentials({
    now: () => now,
    tokenSource: async (fresh) => {
      asked++;
      return { token: `ya29.token-${asked}${fresh ? '-fresh' : ''}`, expiresAt: now + 60 * 60 * 1000 };
    },
  });
  const first = await gcp.obtain();
  assert.deepEqual(first.credential, {
    kind: 'basic',
    username: 'oauth2accesstoken',
    password: 'ya29.token-1',
  });
  const [viaGcr] = gcp.keychain().credentialsFor('gcr.io', 'p/r');
  assert.ok(viaGcr?.kind === 'exchange');
  assert.equal(passwordOf(await viaGcr.obtain({ refresh: false })), 'ya29.token-1');
  now += 54 * 60 * 1000;
  assert.equal(passwordOf(await gcp.obtain()), 'ya29.token-1', 'still outside the 5 min margin');
  now += 2 * 60 * 1000;
  assert.equal(passwordOf(await gcp.obtain()), 'ya29.token-2', 'inside the margin: asked again');
  assert.equal(passwordOf(await gcp.obtain(true)), 'ya29.token-3-fresh', 'refresh asks the source afresh');
  assert.deepEqual(gcp.keychain().credentialsFor('quay.io', 'r'), []);
});

test('exchange cache: concurrent callers share one exchange; a failure is not kept', async () => {
  let calls = 0;
  type Obtained = { credential: { kind: 'basic'; username: string; password: string }; expiresAt: number };
  let release: (value: Obtained) => void = () => {};
  const cache = new ExchangeCache({
    refreshMarginMs: 0,
    describeFailure: (key, error) =>
      new SigwardError('REGISTRY_UNAUTHORIZED', `${key}: ${(error as Error).message}`),
  });
  const exchange = (): Promise<Obtained> => {
    calls++;
    return new Promise<Obtained>((resolve) => {
      release = resolve;
    });
  };
  const a = cache.obtain('k', exchange);
  const b = cache.obtain('k', exchange);
  await turn();
  release({ credential: { kind: 'basic', username: 'u', password: 'p' }, expiresAt: Date.now() + 60_000 });
  assert.equal(passwordOf(await a), 'p');
  assert.equal(passwordOf(await b), 'p');
  assert.equal(calls, 1);
  let failures = 0;
  const failing = async () => {
    failures++;
    throw new Error(`refused ${failures}`);
  };
  await assert.rejects(cache.obtain('f', failing), /f: refused 1/);
  await assert.rejects(cache.obtain('f', failing), /f: refused 2/);
});

test('exchange cache: a provider that never answers is cut at the bound with a coded error', async () => {
  const cache = new ExchangeCache({
    refreshMarginMs: 0,
    exchangeTimeoutMs: 20,
    describeFailure: (key, error) =>
      new SigwardError(
        'REGISTRY_UNAUTHORIZED',
        `${key}: ${(error as Error).name}: ${(error as Error).message}`,
      ),
  });
  // A library that ignores the abort signal: the cache must not wait for it.
  const error = await rejectsWithCode(cache.obtain('slow', () => new Promise(() => {})));
  assert.equal(error.message, 'slow: TimeoutError: no answer within 20 ms');
});
