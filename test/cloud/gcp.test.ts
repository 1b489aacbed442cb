// Artifact Registry / GCR credentials end to end on loopback, through the real google-auth-library:
// Application Default Credentials find the GKE metadata server (a double, google-doubles.ts, reached
// through GCE_METADATA_HOST) or a Workload Identity Federation external_account file whose token_url
// is the STS double; the access token goes as Basic oauth2accesstoken:<token> to the token service of
// an Artifact-Registry-shaped registry (gar-front.ts: Debian's docker-registry behind a double of
// Google's registry auth that accepts only tokens the doubles issued).
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SigwardError } from '../../src/errors.ts';
import { GcpCredentials } from '../../src/cloud/index.ts';
import {
  combineKeychains,
  parseReference,
  staticKeychain,
  type Keychain,
  type RegistryClient,
} from '../../src/oci/index.ts';
import { assertNoSecret, rejectsWithCode, withRegistryClient } from '../support/cloud-assertions.ts';
import type { BearerFront } from '../support/bearer-front.ts';
import { startGarFront } from '../support/gar-front.ts';
import {
  GoogleTokens,
  startMetadataServerDouble,
  startStsDouble,
  type MetadataServerDouble,
  type StsDouble,
} from '../support/google-doubles.ts';
import { pushTestImage } from '../support/images.ts';
import { verifyKubewardenAt } from '../support/verify-cli.ts';
import { kubewarden, pushBundleReferrer } from '../sigstore/discover-fixtures.ts';

const audience =
  '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/eks/providers/cluster-1';
const projectedToken =
  'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2lhbS5nb29nbGVhcGlzLmNvbSIsInN1YiI6InNpZ3dhcmQifQ.c2ln';

let tokens: GoogleTokens;
let metadata: MetadataServerDouble;
let sts: StsDouble;
let front: BearerFront;
const saved = { ...process.env };
const dir = mkdtempSync(join(tmpdir(), 'sigward-gcp-'));
const tokenFile = join(dir, 'projected-token');
const wifFile = join(dir, 'wif.json');

/**
 * Only the Google settings a test names: no gcloud config of the machine, the metadata double, and a
 * project id (else the library asks an installed `gcloud` for one, seconds per client).
 */
function googleEnvironment(settings: Record<string, string>): void {
  for (const key of ['GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT', 'GCLOUD_PROJECT'])
    delete process.env[key];
  Object.assign(process.env, {
    CLOUDSDK_CONFIG: join(dir, 'no-gcloud'),
    HOME: dir,
    GCE_METADATA_HOST: metadata.host,
    GOOGLE_CLOUD_PROJECT: 'project-1',
    ...settings,
  });
}

function wifConfig(subjectToken: string): void {
  writeFileSync(tokenFile, subjectToken);
  writeFileSync(
    wifFile,
    JSON.stringify({
      type: 'external_account',
      audience,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: sts.tokenUrl,
      credential_source: { file: tokenFile },
    }),
  );
}

/** A client reaching the Artifact-Registry-shaped double by its real name. */
const withClient = <T>(keychain: Keychain, use: (client: RegistryClient) => Promise<T>): Promise<T> =>
  withRegistryClient(front.endpointsEnv, keychain, use);

/** Neither an issued access token nor the subject token. */
const secrets = [/ya29\./, projectedToken.slice(0, 40)];

const image = (repo: string, tag = 'v1'): ReturnType<typeof parseReference> =>
  parseReference(`${front.registry}/project-1/${repo}:${tag}`);

before(async () => {
  tokens = new GoogleTokens();
  metadata = await startMetadataServerDouble({ tokens });
  sts = await startStsDouble({ tokens, audience, subjectToken: projectedToken });
  front = await startGarFront({ tokens });
});
beforeEach(() => {
  googleEnvironment({});
  metadata.setBound(true);
});
afterEach((t) => front.backend.noteResult(t));
after(async () => {
  process.env = saved;
  await front?.stop();
  await sts?.stop();
  await metadata?.stop();
});

describe('GKE Workload Identity: the metadata server through google-auth-library', () => {
  test('pushes and pulls with the metadata server token, one token for many requests', async () => {
    const issuedBefore = tokens.counts.metadata;
    await withClient(new GcpCredentials().keychain(), async (client) => {
      const repo = { registry: front.registry, repository: 'project-1/app' };
      const pushed = await pushTestImage(client, repo, { tag: 'v1' });
      assert.equal((await client.getManifest(image('app'))).digest, pushed.digest);
      await client.resolve(image('app'));
    });
    assert.equal(tokens.counts.metadata - issuedBefore, 1, 'one access token served every request');
    assert.ok(metadata.served.includes('/computeMetadata/v1/instance/service-accounts/default/token'));
    assert.equal(metadata.refused.flavor, 0, 'the library sent Metadata-Flavor: Google');
    assert.ok(front.counts.accepted > 0);
  });

  test('an access token Google did not issue is refused by the registry: REGISTRY_UNAUTHORIZED', async () => {
    const before = front.counts.refused['unknown-token'] ?? 0;
    const forged = staticKeychain({
      [front.registry]: { kind: 'basic', username: 'oauth2accesstoken', password: 'ya29.forged' },
    });
    await withClient(forged, (client) => rejectsWithCode(client.resolve(image('app'))));
    assert.equal(front.counts.refused['unknown-token'], before + 1);
  });

  test('a token that expired at Google is refused once, then a fresh one is asked for and accepted', async () => {
    const credentials = new GcpCredentials();
    await withClient(credentials.keychain(), (client) =>
      pushTestImage(client, { registry: front.registry, repository: 'project-1/expiry' }, { tag: 'v1' }),
    );
    const issued = tokens.counts.metadata;
    const expiredBefore = front.counts.refused['expired-token'] ?? 0;
    tokens.expireAll();
    // A new client: its registry-token cache is empty, while the credential cache still holds the old token.
    await withClient(credentials.keychain(), (client) => client.resolve(image('expiry')));
    assert.equal(front.counts.refused['expired-token'], expiredBefore + 1, 'the held token was refused');
    assert.equal(tokens.counts.metadata, issued + 1, 'exactly one fresh token was asked for');
  });

  test('a Kubernetes service account bound to no Google account: coded error, no token', async () => {
    metadata.setBound(false);
    const error = await withClient(new GcpCredentials().keychain(), (client) =>
      rejectsWithCode(client.resolve(image('app'))),
    );
    const cause = error.cause as SigwardError;
    assert.match(cause.message, /^Google gave no access token for its registries: /);
    assert.equal(cause.details['provider'], 'gcp');
    assertNoSecret(error, secrets);
    assert.ok(metadata.refused.unbound > 0);
  });

  test('a stale pull secret for the registry falls through to the Google token', async () => {
    const stale = staticKeychain({
      [front.registry]: { kind: 'basic', username: '_json_key', password: '{"stale":true}' },
    });
    await withClient(combineKeychains(stale, new GcpCredentials().keychain()), async (client) => {
      await pushTestImage(client, { registry: front.registry, repository: 'project-1/order' }, { tag: 'v1' });
      assert.match((await client.resolve(image('order'))).digest, /^sha256:/);
    });
    assert.ok((front.counts.refused['username'] ?? 0) > 0, 'the stale secret was tried first');
  });
});

describe('Workload Identity Federation: an external_account file and STS through google-auth-library', () => {
  test('the projected token is exchanged at STS and the federated token pulls', async () => {
    wifConfig(projectedToken);
    googleEnvironment({ GOOGLE_APPLICATION_CREDENTIALS: wifFile });
    const fromMetadata = tokens.counts.metadata;
    await withClient(new GcpCredentials().keychain(), async (client) => {
      await pushTestImage(client, { registry: front.registry, repository: 'project-1/wif' }, { tag: 'v1' });
      assert.match((await client.resolve(image('wif'))).digest, /^sha256:/);
    });
    assert.ok(tokens.counts.sts > 0);
    assert.equal(tokens.counts.metadata, fromMetadata, 'the metadata server was not asked');
  });

  test('a subject token the pool does not trust: STS refuses, coded error without either token', async () => {
    wifConfig(`${projectedToken}x`);
    googleEnvironment({ GOOGLE_APPLICATION_CREDENTIALS: wifFile });
    const refusedBefore = sts.refused.subjectToken;
    const error = await withClient(new GcpCredentials().keychain(), (client) =>
      rejectsWithCode(client.resolve(image('wif'))),
    );
    assert.match(
      (error.cause as Error).message,
      /Google gave no access token for its registries: .*invalid_grant/,
    );
    assertNoSecret(error, secrets);
    assert.equal(sts.refused.subjectToken, refusedBefore + 1);
  });
});

describe('the doubles refuse what Google refuses', () => {
  test('metadata server: no Metadata-Flavor header, or an X-Forwarded-For header, is 403', async () => {
    const url = `http://${metadata.host}/computeMetadata/v1/instance/service-accounts/default/token`;
    const bare = await fetch(url);
    assert.equal(bare.status, 403);
    const forwarded = await fetch(url, {
      headers: { 'metadata-flavor': 'Google', 'x-forwarded-for': '10.0.0.1' },
    });
    assert.equal(forwarded.status, 403);
    assert.equal(forwarded.headers.get('metadata-flavor'), 'Google');
  });

  test('STS: a wrong grant type, audience or token type is 400', async () => {
    const ask = async (override: Record<string, string>): Promise<number> => {
      const form = new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        audience,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        subject_token: projectedToken,
        scope: 'https://www.googleapis.com/auth/cloud-platform',
        ...override,
      });
      return (await fetch(sts.tokenUrl, { method: 'POST', body: form })).status;
    };
    assert.equal(await ask({}), 200);
    assert.equal(await ask({ grant_type: 'client_credentials' }), 400);
    assert.equal(await ask({ audience: '//iam.googleapis.com/projects/1/other' }), 400);
    assert.equal(await ask({ subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 400);
    assert.equal(await ask({ requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' }), 400);
  });

  test('registry token service: a token without the cloud-platform scope is refused', async () => {
    const narrow = tokens.issue('someone', ['https://www.googleapis.com/auth/userinfo.email'], 600);
    const keychain = staticKeychain({
      [front.registry]: { kind: 'basic', username: 'oauth2accesstoken', password: narrow },
    });
    await withClient(keychain, (client) => rejectsWithCode(client.resolve(image('app'))));
    assert.ok((front.counts.refused['scope'] ?? 0) > 0);
  });
});

describe('sigward verify --cloud-credentials with the Artifact Registry double', () => {
  test('gcp reads the registry with the metadata server token; with only acr the registry refuses: exit 1', async () => {
    const repository = 'project-1/cli';
    await withClient(new GcpCredentials().keychain(), (client) =>
      pushBundleReferrer(
        client,
        { registry: front.registry, repository },
        kubewarden.digest,
        kubewarden.bundle(),
      ),
    );
    const verify = (flag: string) =>
      verifyKubewardenAt(`${front.registry}/${repository}`, flag, {
        HOME: dir,
        SIGWARD_TEST_REGISTRY_ENDPOINTS: front.endpointsEnv,
      });
    const issuedBefore = tokens.counts.metadata;
    const verified = await verify('--cloud-credentials=gcp');
    assert.equal(verified.code, 0, verified.err);
    assert.match(verified.out, /^Verified /);
    assert.equal(tokens.counts.metadata, issuedBefore + 1, 'the CLI asked the metadata server');
    const refused = await verify('--cloud-credentials=acr');
    assert.equal(refused.code, 1);
    assert.match(
      refused.out + refused.err,
      /\[REGISTRY_UNAUTHORIZED\]: .*europe-docker\.pkg\.dev refused access/,
    );
    assert.equal(tokens.counts.metadata, issuedBefore + 1, 'no Google token without gcp');
  });
});
