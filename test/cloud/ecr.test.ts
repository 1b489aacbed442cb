// ECR credentials end to end on loopback: moto's server as the AWS API (STS + ECR), and an ECR-shaped
// registry (test/support/ecr-front.ts: a real docker-registry behind a front that accepts only the
// token moto issues). The SDK's default chain takes the IRSA path: AWS_ROLE_ARN + a web identity token
// file → AssumeRoleWithWebIdentity at moto's STS → GetAuthorizationToken → Basic AWS:<token>.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SigwardError } from '../../src/errors.ts';
import { EcrCredentials } from '../../src/cloud/index.ts';
import {
  RegistryClient,
  combineKeychains,
  parseReference,
  parseRegistryEndpoints,
  staticKeychain,
  type Keychain,
} from '../../src/oci/index.ts';
import { startEcrFront, type EcrFront } from '../support/ecr-front.ts';
import { startMoto, type Moto } from '../support/moto.ts';
import { pushTestImage } from '../support/images.ts';

const account = '111122223333';
const region = 'eu-west-1';
/** What moto issues for the account (test/support/ecr-front.ts checks against moto itself). */
const issuedPassword = `${account}-auth-token`;
const issuedToken = Buffer.from(`AWS:${issuedPassword}`).toString('base64');
const webIdentityToken =
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6Y2k6c2lnbmVyIn0.c2lnbmF0dXJl';

let moto: Moto;
let front: EcrFront;
const saved = { ...process.env };
const dir = mkdtempSync(join(tmpdir(), 'sigward-ecr-'));
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, webIdentityToken);

/** Only the AWS settings a test names: nothing of the machine's (and never instance metadata). */
function awsEnvironment(settings: Record<string, string>): void {
  for (const key of Object.keys(process.env)) if (key.startsWith('AWS_')) delete process.env[key];
  Object.assign(process.env, {
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
    AWS_ENDPOINT_URL: moto.url,
    ...settings,
  });
}

const irsa = (): Record<string, string> => ({
  AWS_ROLE_ARN: `arn:aws:iam::${account}:role/sigward-signer`,
  AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
  AWS_ROLE_SESSION_NAME: 'sigward-test',
});

function clientWith(keychain: Keychain): RegistryClient {
  return new RegistryClient({ keychain, registryEndpoints: parseRegistryEndpoints(front.endpointsEnv) });
}

/** No secret anywhere in an error: message, details or causes. */
function assertNoSecret(error: unknown): void {
  let current: unknown = error;
  while (current instanceof Error) {
    const text = `${current.message} ${JSON.stringify((current as SigwardError).details ?? {})}`;
    for (const secret of [issuedPassword, issuedToken, webIdentityToken]) {
      assert.ok(!text.includes(secret), `error leaks a secret: ${text}`);
    }
    current = current.cause;
  }
}

before(async () => {
  moto = await startMoto();
  front = await startEcrFront({ motoUrl: moto.url, account, region });
});
beforeEach(() => {
  awsEnvironment(irsa());
  front.renew();
});
afterEach((t) => front.backend.noteResult(t));
after(async () => {
  process.env = saved;
  await front?.stop();
  await moto?.stop();
});

describe('ECR through the SDK default chain (IRSA web identity) against moto', () => {
  test('pushes and pulls with the token GetAuthorizationToken issued, no password configured', async () => {
    const client = clientWith(new EcrCredentials().keychain());
    try {
      const repo = { registry: front.registry, repository: 'team/app' };
      const image = await pushTestImage(client, repo, { tag: 'v1' });
      const fetched = await client.getManifest(parseReference(`${front.registry}/team/app:v1`));
      assert.equal(fetched.digest, image.digest);
      assert.ok(front.counts.accepted > 0);
    } finally {
      await client.close();
    }
  });

  test('a password that is not the issued token is refused by the front: REGISTRY_UNAUTHORIZED', async () => {
    const before = front.counts.refused.wrong;
    const forged = staticKeychain({
      [front.registry]: { kind: 'basic', username: 'AWS', password: '999999999999-auth-token' },
    });
    const client = clientWith(forged);
    try {
      await assert.rejects(client.resolve(parseReference(`${front.registry}/team/app:v1`)), (error) => {
        assert.ok(error instanceof SigwardError);
        assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
        return true;
      });
      assert.equal(front.counts.refused.wrong, before + 1);
    } finally {
      await client.close();
    }
  });

  test('a refused credential before the exchange (a stale pull secret) falls through to ECR', async () => {
    const stale = staticKeychain({
      [front.registry]: { kind: 'basic', username: 'AWS', password: 'stale-pull-secret' },
    });
    const client = clientWith(combineKeychains(stale, new EcrCredentials().keychain()));
    try {
      await pushTestImage(client, { registry: front.registry, repository: 'team/order' }, { tag: 'v1' });
      const descriptor = await client.resolve(parseReference(`${front.registry}/team/order:v1`));
      assert.match(descriptor.digest, /^sha256:/);
    } finally {
      await client.close();
    }
  });

  test('an expired token is refused with a coded error that holds no token', async () => {
    await front.expireIssuedToken();
    const client = clientWith(new EcrCredentials().keychain());
    try {
      await assert.rejects(client.resolve(parseReference(`${front.registry}/team/app:v1`)), (error) => {
        assert.ok(error instanceof SigwardError);
        assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
        assertNoSecret(error);
        return true;
      });
      assert.ok(front.counts.refused.expired > 0);
    } finally {
      await client.close();
    }
  });

  test('IRSA whose token file is missing: the error names that file (a path is no secret)', async () => {
    const missing = join(dir, 'projected-volume-without-any-dot', 'aws-web-identity-token');
    awsEnvironment({ ...irsa(), AWS_WEB_IDENTITY_TOKEN_FILE: missing });
    const client = clientWith(new EcrCredentials().keychain());
    try {
      await assert.rejects(client.resolve(parseReference(`${front.registry}/team/app:v1`)), (error) => {
        assert.ok(error instanceof SigwardError);
        assert.equal(
          (error.cause as SigwardError).message,
          `AWS ECR gave no authorization token for ${front.registry}: Error: ENOENT: no such file or directory, open '${missing}'`,
        );
        assertNoSecret(error);
        return true;
      });
    } finally {
      await client.close();
    }
  });

  test('no AWS credentials at all: REGISTRY_UNAUTHORIZED naming the AWS error and where it looked, no secret', async () => {
    awsEnvironment({});
    const client = clientWith(new EcrCredentials().keychain());
    try {
      await assert.rejects(client.resolve(parseReference(`${front.registry}/team/app:v1`)), (error) => {
        assert.ok(error instanceof SigwardError);
        assert.equal(error.code, 'REGISTRY_UNAUTHORIZED');
        // The chain's last words and where it looked, so an operator knows what to set.
        const cause = error.cause as SigwardError;
        assert.equal(
          cause.message,
          'AWS ECR gave no authorization token for 111122223333.dkr.ecr.eu-west-1.amazonaws.com: ' +
            'CredentialsProviderError: Could not load credentials from any providers (this process has no AWS identity: ' +
            "looked for env keys, IRSA's web identity token, EKS Pod Identity, shared config and instance metadata)",
        );
        assert.equal(cause.details['awsError'], 'CredentialsProviderError');
        assertNoSecret(error);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});
