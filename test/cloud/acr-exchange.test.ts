// What AcrCredentials does with each answer of a registry's /oauth2/exchange, against a loopback
// server that answers as told (a stand-in for the answers ACR can give, not for ACR's checks, which
// test/cloud/acr.test.ts covers with its double): the refresh token and its expiry, and the refusals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AcrCredentials, ACR_REFRESH_TOKEN_USERNAME, parseAcrRegistry } from '../../src/cloud/index.ts';
import { HttpTransport, parseRegistryEndpoints } from '../../src/oci/index.ts';
import { testJwt } from '../support/entra-double.ts';
import { assertNoSecret, rejectsWithCode } from '../support/cloud-assertions.ts';

const registry = parseAcrRegistry('answers.azurecr.io')!;
const chinaRegistry = parseAcrRegistry('answers.azurecr.cn')!;
let answer: { status: number; body: string } = { status: 200, body: '{}' };
const forms: URLSearchParams[] = [];
let server: http.Server;
let transport: HttpTransport;
const entraToken = testJwt({ tid: 'tid-from-token', aud: 'https://containerregistry.azure.net' });
const entraExpiry = Date.now() + 3_600_000;

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      forms.push(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  transport = new HttpTransport({
    registryEndpoints: parseRegistryEndpoints(
      `${registry.host}=${endpoint},${chinaRegistry.host}=${endpoint}`,
    ),
  });
});
after(async () => {
  await transport.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const credentials = (tenant?: string): AcrCredentials =>
  new AcrCredentials({
    transport,
    ...(tenant === undefined ? {} : { tenant }),
    tokenSource: async () => ({ token: entraToken, expiresAt: entraExpiry }),
  });

test('a JWT refresh token: null-GUID Basic, kept until its exp; the form ACR documents', async () => {
  const exp = Math.floor(Date.now() / 1000) + 3 * 3600;
  const refresh = testJwt({ exp, aud: registry.host });
  answer = { status: 200, body: JSON.stringify({ refresh_token: refresh }) };
  const obtained = await credentials('tenant-1').obtain(registry);
  assert.deepEqual(obtained.credential, {
    kind: 'basic',
    username: ACR_REFRESH_TOKEN_USERNAME,
    password: refresh,
  });
  assert.equal(obtained.expiresAt, exp * 1000);
  const form = forms.at(-1)!;
  assert.equal(form.get('grant_type'), 'access_token');
  assert.equal(form.get('service'), 'answers.azurecr.io');
  assert.equal(form.get('tenant'), 'tenant-1');
  assert.equal(form.get('access_token'), entraToken);
});

test("an opaque refresh token: kept until the Entra token expires; no tenant configured: the token's tid", async () => {
  answer = { status: 200, body: JSON.stringify({ refresh_token: 'opaque-refresh-token' }) };
  const saved = process.env['AZURE_TENANT_ID'];
  delete process.env['AZURE_TENANT_ID'];
  try {
    const obtained = await credentials().obtain(registry);
    assert.equal(obtained.expiresAt, entraExpiry);
    assert.equal(forms.at(-1)!.get('tenant'), 'tid-from-token');
  } finally {
    if (saved !== undefined) process.env['AZURE_TENANT_ID'] = saved;
  }
});

test('no refresh token, an unusable one, or a refusal: REGISTRY_UNAUTHORIZED with only the status and a plain code', async () => {
  const cases: Array<[{ status: number; body: string }, RegExp]> = [
    [{ status: 200, body: '{}' }, /its \/oauth2\/exchange returned no refresh token$/],
    [
      { status: 200, body: JSON.stringify({ refresh_token: 'has spaces in it' }) },
      /returned no refresh token$/,
    ],
    [{ status: 200, body: 'not json' }, /returned no refresh token$/],
    [
      {
        status: 401,
        body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: `bad token ${entraToken}` }] }),
      },
      /its \/oauth2\/exchange answered 401 \(UNAUTHORIZED\): ACR refused the Entra token: /,
    ],
    [{ status: 400, body: JSON.stringify({ errors: [{ code: 'echo <script>' }] }) }, /answered 400$/],
  ];
  for (const [reply, expected] of cases) {
    answer = reply;
    const error = await rejectsWithCode(credentials('t').obtain(registry));
    assert.match(error.message, expected);
    assertNoSecret(error, [entraToken]);
  }
});

test('a 401 says what to check: the tenant sent, AcrPull, and authentication-as-arm where the ARM audience is asked', async () => {
  answer = { status: 401, body: JSON.stringify({ errors: [{ code: 'UNAUTHORIZED' }] }) };
  const publicError = await rejectsWithCode(credentials('tenant-one').obtain(registry));
  assert.equal(
    publicError.message,
    "Azure gave no ACR credential for answers.azurecr.io: its /oauth2/exchange answered 401 (UNAUTHORIZED): ACR refused the Entra token: the identity must belong to the registry's Entra tenant (the tenant sent was tenant-one (AZURE_TENANT_ID, else the token's tid)) and hold AcrPull (or a role with registries/pull/read) on the registry",
  );
  const chinaError = await rejectsWithCode(credentials('tenant-one').obtain(chinaRegistry));
  assert.match(
    chinaError.message,
    /AcrPull .*; in this cloud the token is for Azure Resource Manager \(https:\/\/management\.chinacloudapi\.cn\/\.default\), which a registry with the authentication-as-arm policy disabled refuses$/,
  );
  answer = { status: 403, body: JSON.stringify({ errors: [{ code: 'DENIED' }] }) };
  assert.match(
    (await rejectsWithCode(credentials('t').obtain(registry))).message,
    /answered 403 \(DENIED\)$/,
  );
});
