// ACR credentials end to end on loopback, through the real @azure/identity (MSAL): AKS Workload
// Identity's environment (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE,
// AZURE_AUTHORITY_HOST) points the library at the Entra double (entra-double.ts, TLS with a test CA the
// process trusts); the Entra token is exchanged at an ACR-shaped registry's /oauth2/exchange
// (acr-front.ts: Debian's docker-registry behind a double of ACR's auth) for a refresh token that
// pushes and pulls with the null-GUID username.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { SigwardError } from '../../src/errors.ts';
import { AcrCredentials, type AcrCredentialsOptions } from '../../src/cloud/index.ts';
import {
  HttpTransport,
  combineKeychains,
  parseReference,
  parseRegistryEndpoints,
  staticKeychain,
  type Keychain,
  type RegistryClient,
} from '../../src/oci/index.ts';
import { assertNoSecret, rejectsWithCode, withRegistryClient } from '../support/cloud-assertions.ts';
import { NULL_GUID, startAcrFront, type AcrFront } from '../support/acr-front.ts';
import { FEDERATED_AUDIENCE, startEntraDouble, testJwt, type EntraDouble } from '../support/entra-double.ts';
import { pushTestImage } from '../support/images.ts';
import { verifyKubewardenAt } from '../support/verify-cli.ts';
import { kubewarden, pushBundleReferrer } from '../sigstore/discover-fixtures.ts';

const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const clientId = '5b2c1f6e-0d7a-4c55-9a51-3f1b7f0c2e11';
const federatedToken = testJwt({
  aud: FEDERATED_AUDIENCE,
  iss: 'https://oidc.prod-aks.azure.com/cluster/',
  sub: 'system:serviceaccount:sigward:sigward',
});

let entra: EntraDouble;
let acr: AcrFront;
const transports: HttpTransport[] = [];
const saved = { ...process.env };
const defaultCas = tls.getCACertificates('default');
const dir = mkdtempSync(join(tmpdir(), 'sigward-acr-'));
const tokenFile = join(dir, 'azure-identity-token');

/** Only the Azure settings a test names; managed identity's probe goes to the Entra double too. */
function azureEnvironment(settings: Record<string, string>): void {
  for (const key of Object.keys(process.env)) {
    if (key.startsWith('AZURE_') || key === 'IDENTITY_ENDPOINT' || key === 'MSI_ENDPOINT')
      delete process.env[key];
  }
  Object.assign(process.env, { AZURE_POD_IDENTITY_AUTHORITY_HOST: entra.authorityHost, ...settings });
}

const workloadIdentity = (): Record<string, string> => ({
  AZURE_CLIENT_ID: clientId,
  AZURE_TENANT_ID: tenant,
  AZURE_FEDERATED_TOKEN_FILE: tokenFile,
  AZURE_AUTHORITY_HOST: entra.authorityHost,
});

function acrCredentials(options: Partial<AcrCredentialsOptions> = {}): AcrCredentials {
  const transport = new HttpTransport({ registryEndpoints: parseRegistryEndpoints(acr.endpointsEnv) });
  transports.push(transport);
  return new AcrCredentials({ transport, ...options });
}

/** A client reaching the ACR-shaped double by its real name. */
const withClient = <T>(keychain: Keychain, use: (client: RegistryClient) => Promise<T>): Promise<T> =>
  withRegistryClient(acr.endpointsEnv, keychain, use);

/** Any JWT: Entra's access token, ACR's refresh token, the federated token. */
const secrets = [/eyJ[A-Za-z0-9_-]{10,}/];

const image = (repo: string): ReturnType<typeof parseReference> =>
  parseReference(`${acr.registry}/${repo}:v1`);

before(async () => {
  entra = await startEntraDouble({ tenant, clientId, federatedToken });
  // MSAL talks only https: this process trusts the double's test CA (and nothing else changes).
  tls.setDefaultCACertificates([...defaultCas, entra.caPem]);
  // A registry that accepts ACR-audience tokens only: the exchange succeeding proves the scope asked.
  acr = await startAcrFront({ entra: entra.tokens, tenant, armAudienceDisabled: true });
});
beforeEach(() => {
  writeFileSync(tokenFile, federatedToken);
  azureEnvironment(workloadIdentity());
});
afterEach((t) => acr.backend.noteResult(t));
after(async () => {
  process.env = saved;
  tls.setDefaultCACertificates(defaultCas);
  await Promise.all(transports.map((t) => t.close()));
  await acr?.stop();
  await entra?.stop();
});

describe('AKS Workload Identity through @azure/identity and ACR /oauth2/exchange', () => {
  test('pushes and pulls with the refresh token the exchange issued, one exchange for many requests', async () => {
    const exchangedBefore = acr.exchanges.issued;
    await withClient(acrCredentials().keychain(), async (client) => {
      const repo = { registry: acr.registry, repository: 'team/app' };
      const pushed = await pushTestImage(client, repo, { tag: 'v1' });
      assert.equal((await client.getManifest(image('team/app'))).digest, pushed.digest);
    });
    assert.equal(acr.exchanges.issued - exchangedBefore, 1);
    assert.ok(entra.served.includes(`/${tenant}/oauth2/v2.0/token`), 'MSAL asked the loopback Entra');
    assert.deepEqual(entra.refused, {});
    assert.ok(acr.counts.accepted > 0);
  });

  test('a refresh token ACR did not issue is refused: REGISTRY_UNAUTHORIZED', async () => {
    const before = acr.counts.refused['refresh_token'] ?? 0;
    const forged = staticKeychain({
      [acr.registry]: { kind: 'basic', username: NULL_GUID, password: testJwt({ aud: acr.registry }) },
    });
    await withClient(forged, (client) => rejectsWithCode(client.resolve(image('team/app'))));
    assert.equal(acr.counts.refused['refresh_token'], before + 1);
  });

  test('a held refresh token ACR let expire is refused once, then exchanged afresh', async () => {
    const credentials = acrCredentials();
    await withClient(credentials.keychain(), (client) =>
      pushTestImage(client, { registry: acr.registry, repository: 'team/expiry' }, { tag: 'v1' }),
    );
    const exchanged = acr.exchanges.issued;
    const expiredBefore = acr.counts.refused['expired_refresh_token'] ?? 0;
    acr.expireRefreshTokens();
    await withClient(credentials.keychain(), (client) => client.resolve(image('team/expiry')));
    assert.equal(acr.counts.refused['expired_refresh_token'], expiredBefore + 1);
    assert.equal(acr.exchanges.issued, exchanged + 1);
  });

  test('a stale pull secret falls through to the exchange', async () => {
    const stale = staticKeychain({
      [acr.registry]: { kind: 'basic', username: 'sigward-pull', password: 'stale' },
    });
    await withClient(combineKeychains(stale, acrCredentials().keychain()), (client) =>
      pushTestImage(client, { registry: acr.registry, repository: 'team/order' }, { tag: 'v1' }),
    );
    assert.ok((acr.counts.refused['username'] ?? 0) > 0, 'the stale secret was tried first');
  });

  test('a federated token Entra does not trust: coded error naming Azure, no token', async () => {
    writeFileSync(
      tokenFile,
      testJwt({ aud: FEDERATED_AUDIENCE, sub: 'system:serviceaccount:other:intruder' }),
    );
    const before = entra.refused['assertion'] ?? 0;
    const error = await withClient(acrCredentials().keychain(), (client) =>
      rejectsWithCode(client.resolve(image('team/app'))),
    );
    const cause = error.cause as SigwardError;
    assert.match(
      cause.message,
      /^Azure gave no ACR credential for sigward\.azurecr\.io: AuthenticationRequiredError: invalid_client: .*700213/,
    );
    assert.equal(cause.details['provider'], 'acr');
    assertNoSecret(error, secrets);
    assert.ok((entra.refused['assertion'] ?? 0) > before);
  });

  test('an app id Entra does not know: refused by Entra, coded error', async () => {
    azureEnvironment({ ...workloadIdentity(), AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555' });
    const before = entra.refused['client_id'] ?? 0;
    const error = await withClient(acrCredentials().keychain(), (client) =>
      rejectsWithCode(client.resolve(image('team/app'))),
    );
    assertNoSecret(error, secrets);
    assert.ok((entra.refused['client_id'] ?? 0) > before);
  });

  test('the exchange refuses a token of another tenant: its status and code, not its words', async () => {
    const before = acr.exchanges.refused['tenant'] ?? 0;
    const otherTenant = acrCredentials({ tenant: '00000000-1111-2222-3333-444444444444' });
    const error = await withClient(otherTenant.keychain(), (client) =>
      rejectsWithCode(client.resolve(image('team/app'))),
    );
    assert.match(
      (error.cause as Error).message,
      /^Azure gave no ACR credential for sigward\.azurecr\.io: its \/oauth2\/exchange answered 401 \(UNAUTHORIZED\): ACR refused the Entra token: .*\(the tenant sent was 00000000-1111-2222-3333-444444444444 /,
    );
    assertNoSecret(error, secrets);
    assert.equal(acr.exchanges.refused['tenant'], before + 1);
  });

  test('a managed identity (IMDS) without workload identity: the tenant comes from the token', async () => {
    const managed = '9a0b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
    entra.setManagedIdentity(managed);
    azureEnvironment({ AZURE_CLIENT_ID: managed });
    try {
      const exchanged = acr.exchanges.issued;
      await withClient(acrCredentials().keychain(), (client) =>
        pushTestImage(client, { registry: acr.registry, repository: 'team/managed' }, { tag: 'v1' }),
      );
      assert.equal(acr.exchanges.issued, exchanged + 1, 'one exchange, with the tenant of the token');
      assert.equal(acr.exchanges.tenants.at(-1), tenant, "no AZURE_TENANT_ID: the token's tid was sent");
    } finally {
      entra.setManagedIdentity(undefined);
    }
  });

  test('no Azure identity at all (no workload identity, no managed identity): coded error', async () => {
    azureEnvironment({});
    const error = await withClient(acrCredentials().keychain(), (client) =>
      rejectsWithCode(client.resolve(image('team/app'))),
    );
    assert.match(
      (error.cause as Error).message,
      /^Azure gave no ACR credential for sigward\.azurecr\.io: CredentialUnavailableError: ManagedIdentityCredential: .*Identity not found/,
    );
    assert.ok((entra.refused['managed_identity'] ?? 0) > 0, 'the managed identity probe stayed on loopback');
  });
});

describe('the doubles refuse what Entra and ACR refuse', () => {
  const exchange = async (
    override: Record<string, string>,
    contentType = 'application/x-www-form-urlencoded',
  ) => {
    const accessToken = entra.tokens.issue(
      { audience: 'https://containerregistry.azure.net', tenant, clientId },
      600,
    );
    const form = new URLSearchParams({
      grant_type: 'access_token',
      service: acr.registry,
      tenant,
      access_token: accessToken,
      ...override,
    });
    return (
      await fetch(`http://${acr.endpoint}/oauth2/exchange`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: form.toString(),
      })
    ).status;
  };

  test('ACR exchange: wrong grant type, service, audience or body type is refused', async () => {
    assert.equal(await exchange({}), 200);
    assert.equal(await exchange({ grant_type: 'refresh_token' }), 400);
    assert.equal(await exchange({ service: 'other.azurecr.io' }), 400);
    assert.equal(await exchange({}, 'application/json'), 400);
    const arm = entra.tokens.issue({ audience: 'https://management.azure.com', tenant, clientId }, 600);
    assert.equal(
      await exchange({ access_token: arm }),
      401,
      'ARM audience refused when authentication-as-arm is off',
    );
  });

  test('Entra token endpoint: wrong grant type, assertion type or scope is 400', async () => {
    const ask = async (override: Record<string, string>): Promise<number> => {
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: federatedToken,
        scope: 'https://containerregistry.azure.net/.default',
        ...override,
      });
      return (
        await fetch(`${entra.authorityHost}/${tenant}/oauth2/v2.0/token`, { method: 'POST', body: form })
      ).status;
    };
    assert.equal(await ask({}), 200);
    assert.equal(await ask({ grant_type: 'password' }), 400);
    assert.equal(
      await ask({ client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }),
      400,
    );
    assert.equal(await ask({ client_assertion: testJwt({ aud: 'https://example.com', sub: 'x' }) }), 400);
    assert.equal(await ask({ scope: 'https://containerregistry.azure.net/user_impersonation' }), 400);
  });
});

describe('sigward verify --cloud-credentials with the ACR double', () => {
  test('acr reads the registry with the workload identity; with only ecr the registry refuses: exit 1', async () => {
    await withClient(acrCredentials().keychain(), (client) =>
      pushBundleReferrer(
        client,
        { registry: acr.registry, repository: 'cli/app' },
        kubewarden.digest,
        kubewarden.bundle(),
      ),
    );
    const verify = (flag: string) =>
      verifyKubewardenAt(`${acr.registry}/cli/app`, flag, {
        HOME: dir,
        SIGWARD_TEST_REGISTRY_ENDPOINTS: acr.endpointsEnv,
      });
    const exchangedBefore = acr.exchanges.issued;
    const verified = await verify('--cloud-credentials=acr');
    assert.equal(verified.code, 0, verified.err);
    assert.match(verified.out, /^Verified /);
    assert.equal(acr.exchanges.issued, exchangedBefore + 1, 'the CLI exchanged at the registry');
    const refused = await verify('--cloud-credentials=ecr');
    assert.equal(refused.code, 1);
    assert.match(
      refused.out + refused.err,
      /\[REGISTRY_UNAUTHORIZED\]: .*sigward\.azurecr\.io refused access/,
    );
    assert.equal(acr.exchanges.issued, exchangedBefore + 1, 'no exchange without acr');
  });
});
