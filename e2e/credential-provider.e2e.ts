// The kubelet credential provider plugin EKS nodes run, the REAL `ecr-credential-provider` built from
// k8s.io/cloud-provider-aws v1.37.1 (e2e/tools/ecr-credential-provider), exec'd by sigward from a
// CredentialProviderConfig as the kubelet execs it. AWS is moto's server on loopback (STS + ECR, the
// plugin's Go SDK reaches it through AWS_ENDPOINT_URL); the registry is the ECR-shaped front of
// test/support/ecr-front.ts (a real docker-registry that only accepts the token moto issued), its ECR
// name mapped to loopback by SIGWARD_TEST_REGISTRY_ENDPOINTS. No password is configured anywhere.
// The same world serves the docker credential helper ECR users run, the REAL docker-credential-ecr-login
// (github.com/awslabs/amazon-ecr-credential-helper v0.13.0, e2e/tools/ecr-login), named by `credHelpers`.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CredentialProviderPlugins,
  DockerCredentialHelpers,
  dockerConfigFileKeychain,
  readCredentialProviderConfig,
} from '../src/exec-credentials/index.ts';
import {
  RegistryClient,
  parseDockerConfigJson,
  parseReference,
  parseRegistryEndpoints,
  type Keychain,
} from '../src/oci/index.ts';
import { startEcrFront, type EcrFront } from '../test/support/ecr-front.ts';
import { pushTestImage } from '../test/support/images.ts';
import { startMoto, type Moto } from '../test/support/moto.ts';
import { PROD_ROOT_PATH } from '../test/sigstore/ext.ts';
import { goTool, repoRoot } from './world/tools.ts';
import { rejectsWithCode } from '../test/support/cloud-assertions.ts';

// moto answers GetAuthorizationToken without registryIds (what the plugin asks) for its default account.
const account = '123456789012';
const region = 'us-west-2';
const issuedPassword = `${account}-auth-token`;
const webIdentityToken =
  'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2lnd2FyZDpzaWd3YXJkIn0.c2lnbmF0dXJl';

let moto: Moto;
let front: EcrFront;
let dir: string;
let configFile: string;
let binDir: string;
let digest: string;

/** What the plugin (and the CLI) may see: the emulator, and the identity a case names. */
function awsEnv(identity: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: dir,
    AWS_ENDPOINT_URL: moto.url,
    // The plugin's web identity step (aws-sdk-go-v2 config v1.29) ignores AWS_ENDPOINT_URL for STS
    // and would ask the real sts.<region>.amazonaws.com: name the emulator for STS too.
    AWS_ENDPOINT_URL_STS: moto.url,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    ...identity,
  };
}
const staticKeys = { AWS_ACCESS_KEY_ID: 'AKIAPLUGINE2ETEST000', AWS_SECRET_ACCESS_KEY: 'plugin-e2e-secret' };
const irsa = (): Record<string, string> => ({
  AWS_ROLE_ARN: `arn:aws:iam::${account}:role/sigward-webhook`,
  AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, 'token'),
  AWS_ROLE_SESSION_NAME: 'sigward-e2e',
});

function pluginKeychain(env: NodeJS.ProcessEnv): Keychain {
  return new CredentialProviderPlugins(readCredentialProviderConfig(configFile, binDir), { env }).keychain();
}

function helperKeychain(env: NodeJS.ProcessEnv): Keychain {
  const config = parseDockerConfigJson(
    JSON.stringify({ credHelpers: { [front.registry]: 'ecr-login' } }),
    'config.json',
  );
  return dockerConfigFileKeychain(config, new DockerCredentialHelpers({ env }));
}

/** The digest team/app:v1 resolves to with this keychain alone. */
async function resolveWith(keychain: Keychain): Promise<string> {
  const client = clientOf(keychain);
  try {
    return (await client.resolve(parseReference(`${front.registry}/team/app:v1`))).digest;
  } finally {
    await client.close();
  }
}

/** `sigward verify` of the pushed (unsigned) image with a keyless identity and no cloud exchange. */
const verifyArgs = (): string[] => [
  'verify',
  `--trusted-root=${PROD_ROOT_PATH}`,
  '--certificate-identity=https://kubernetes.io/namespaces/apps/serviceaccounts/release',
  '--certificate-oidc-issuer=https://kubernetes.default.svc',
  '--cloud-credentials=none',
];

function clientOf(keychain: Keychain): RegistryClient {
  return new RegistryClient({ keychain, registryEndpoints: parseRegistryEndpoints(front.endpointsEnv) });
}

/** The helper on PATH (its own dir first), its file cache off, its log under the test's HOME. */
function helperEnv(identity: Record<string, string>): NodeJS.ProcessEnv {
  const env = awsEnv(identity);
  return { ...env, PATH: `${helperDir}:${env['PATH'] ?? ''}`, AWS_ECR_DISABLE_CACHE: 'true' };
}
let helperDir: string;

function sigward(args: readonly string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'bin/sigward.js'), ...args],
      {
        env: {
          ...env,
          SIGWARD_TEST_REGISTRY_ENDPOINTS: front.endpointsEnv,
          SIGWARD_TUF_CACHE: join(dir, 'tuf'),
        },
      },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

before(async () => {
  const plugin = goTool('ecr-credential-provider');
  const helper = goTool('docker-credential-ecr-login');
  moto = await startMoto();
  front = await startEcrFront({ motoUrl: moto.url, account, region });
  dir = mkdtempSync(join(tmpdir(), 'sigward-credential-provider-'));
  writeFileSync(join(dir, 'token'), webIdentityToken);
  binDir = join(dir, 'bin');
  mkdirSync(binDir);
  symlinkSync(plugin, join(binDir, 'ecr-credential-provider'));
  helperDir = join(dir, 'helpers');
  mkdirSync(helperDir);
  symlinkSync(helper, join(helperDir, 'docker-credential-ecr-login'));
  configFile = join(dir, 'credential-provider-config.yaml');
  // The config EKS nodes carry (/etc/eks/image-credential-provider/config.json), as YAML.
  writeFileSync(
    configFile,
    [
      'apiVersion: kubelet.config.k8s.io/v1',
      'kind: CredentialProviderConfig',
      'providers:',
      '  - name: ecr-credential-provider',
      '    matchImages: ["*.dkr.ecr.*.amazonaws.com", "*.dkr.ecr.*.amazonaws.com.cn"]',
      '    defaultCacheDuration: "12h"',
      '    apiVersion: credentialprovider.kubelet.k8s.io/v1',
      '',
    ].join('\n'),
  );
});
afterEach((t) => front?.backend.noteResult(t));
after(async () => {
  await front?.stop();
  await moto?.stop();
});

describe("the real ecr-credential-provider v1.37.1, exec'd by sigward, against moto and an ECR-shaped registry", () => {
  test('static AWS keys: push and pull with the token the plugin obtained', async () => {
    const client = clientOf(pluginKeychain(awsEnv(staticKeys)));
    try {
      const image = await pushTestImage(
        client,
        { registry: front.registry, repository: 'team/app' },
        { tag: 'v1' },
      );
      digest = image.digest;
      const fetched = await client.getManifest(parseReference(`${front.registry}/team/app:v1`));
      assert.equal(fetched.digest, image.digest);
      assert.ok(front.counts.accepted > 0);
    } finally {
      await client.close();
    }
  });

  test('IRSA (web identity token + role ARN through moto STS): the plugin assumes the role itself', async () => {
    assert.equal(await resolveWith(pluginKeychain(awsEnv(irsa()))), digest);
  });

  test('no AWS identity: REGISTRY_UNAUTHORIZED naming the plugin and the image, no secret', async () => {
    const error = await rejectsWithCode(resolveWith(pluginKeychain(awsEnv({}))));
    assert.match(
      error.message,
      new RegExp(
        `credential provider plugin ecr-credential-provider gave no credentials for ${front.registry.replaceAll('.', '\\.')}/team/app: exit status 1`,
      ),
    );
    // The plugin's own error (its last stderr line), not its progress lines.
    assert.match(error.message, /Error running credential provider plugin: .*GetAuthorizationToken/);
    assert.ok(!error.message.includes(issuedPassword));
  });

  test('sigward verify --credential-provider-config: the unsigned image is read (NO_SIGNATURES, not REGISTRY_UNAUTHORIZED)', async () => {
    const image = `${front.registry}/team/app@${digest}`;
    const plugins = [`--credential-provider-config=${configFile}`, `--credential-provider-bin-dir=${binDir}`];
    const withPlugin = await sigward([...verifyArgs(), ...plugins, image], awsEnv(irsa()));
    assert.equal(withPlugin.code, 1, withPlugin.stderr);
    assert.match(withPlugin.stderr, /\[NO_SIGNATURES\]/);
    const without = await sigward([...verifyArgs(), image], awsEnv(irsa()));
    assert.equal(without.code, 1);
    assert.match(without.stderr, /\[REGISTRY_UNAUTHORIZED\]: .*refused access/);
    for (const run of [withPlugin, without]) {
      assert.ok(!`${run.stdout}${run.stderr}`.includes(issuedPassword), 'the issued token is never printed');
    }
  });
});

describe('the real docker-credential-ecr-login v0.13.0 named by credHelpers, against the same world', () => {
  test('IRSA: the helper obtains the token, sigward pulls with it; no password in the config', async () => {
    assert.equal(await resolveWith(helperKeychain(helperEnv(irsa()))), digest);
  });

  test('no AWS identity: the helper says "not found", the registry is tried anonymously and refuses', async () => {
    const error = await rejectsWithCode(resolveWith(helperKeychain(helperEnv({}))));
    assert.match(error.message, /asks for Basic credentials and none apply/);
  });

  test('sigward verify with $DOCKER_CONFIG naming the helper reads the unsigned image (NO_SIGNATURES)', async () => {
    const configDir = join(dir, 'docker');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(
      join(configDir, 'config.json'),
      JSON.stringify({ credHelpers: { [front.registry]: 'ecr-login' } }),
    );
    const run = await sigward([...verifyArgs(), `${front.registry}/team/app@${digest}`], {
      ...helperEnv(irsa()),
      DOCKER_CONFIG: configDir,
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /\[NO_SIGNATURES\]/);
    assert.ok(!`${run.stdout}${run.stderr}`.includes(issuedPassword));
  });
});
