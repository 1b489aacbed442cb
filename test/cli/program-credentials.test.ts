// The credential-program flags of the three commands, end to end: `sigward verify` reads an unsigned image
// from a registry that only accepts the password a program gave (a docker credential helper named by
// $DOCKER_CONFIG, or a credential provider plugin named by --credential-provider-config), both written
// for the tests (test/support/credential-programs); a bad plugin config stops `sigward webhook` at start.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { verifyCaptured as verify } from '../support/verify-cli.ts';
import { RegistryClient, staticKeychain } from '../../src/oci/index.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { pushTestImage } from '../support/images.ts';
import { PROD_ROOT_PATH } from '../sigstore/ext.ts';
import { podReview } from '../engine/harness.ts';
import { startWebhook } from './webhook-process.ts';
import { registryConfigKeychain } from '../../src/cli/program-credentials.ts';

const programs = resolve('test/support/credential-programs');
const secret = 'cli-password-MTIzNDU2Nzg5MGFiY2RlZg';
let registry: DockerRegistry;
let dir: string;
let image: string;

before(async () => {
  registry = await startDockerRegistry({ auth: { kind: 'htpasswd', users: { robot: secret } } });
  dir = mkdtempSync(join(tmpdir(), 'sigward-cli-programs-'));
  const client = new RegistryClient({
    keychain: staticKeychain({ [registry.host]: { kind: 'basic', username: 'robot', password: secret } }),
  });
  try {
    const pushed = await pushTestImage(client, { registry: registry.host, repository: 'cli/app' });
    image = `${registry.host}/cli/app@${pushed.digest}`;
  } finally {
    await client.close();
  }
});
afterEach((t) => registry.noteResult(t));
after(async () => registry?.stop());

const identity = [
  `--trusted-root=${PROD_ROOT_PATH}`,
  '--certificate-identity=someone@example.com',
  '--certificate-oidc-issuer=https://accounts.example.com',
  '--cloud-credentials=none',
];

describe('sigward verify', () => {
  test('$DOCKER_CONFIG credHelpers: the helper gives the password, the image is read (NO_SIGNATURES)', async () => {
    const docker = join(dir, 'docker');
    const answers = join(dir, 'answers');
    mkdirSync(docker);
    mkdirSync(answers);
    writeFileSync(
      join(docker, 'config.json'),
      JSON.stringify({ credHelpers: { [registry.host]: 'sigward-test' } }),
    );
    writeFileSync(join(answers, registry.host), JSON.stringify({ Username: 'robot', Secret: secret }));
    const env = {
      HOME: dir,
      DOCKER_CONFIG: docker,
      PATH: `${programs}${delimiter}${process.env['PATH'] ?? ''}`,
      TEST_HELPER_ANSWERS: answers,
    };
    const r = await verify([...identity, image], env);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /\[NO_SIGNATURES\]/);
    const none = await verify([...identity, image], { ...env, TEST_HELPER_ANSWERS: join(dir, 'nothing') });
    assert.match(none.err, /\[REGISTRY_UNAUTHORIZED\]/, 'the helper had nothing: anonymous, refused');
    for (const run of [r, none]) assert.ok(!`${run.out}${run.err}`.includes(secret));
  });

  test('--credential-provider-config with its bin dir: the plugin gives the password', async () => {
    const plugin = pluginSetup('verify');
    const r = await verify(
      [
        ...identity,
        `--credential-provider-config=${plugin.config}`,
        `--credential-provider-bin-dir=${plugin.bin}`,
        image,
      ],
      { HOME: dir },
    );
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /\[NO_SIGNATURES\]/);
    assert.ok(!`${r.out}${r.err}`.includes(secret));
  });

  test('--credential-provider-config without its bin dir is refused', async () => {
    const r = await verify([...identity, `--credential-provider-config=${join(dir, 'x.yaml')}`, image], {
      HOME: dir,
    });
    assert.equal(r.code, 1);
    assert.match(r.err, /--credential-provider-config and --credential-provider-bin-dir go together/);
    assert.match(
      r.err,
      /--credential-provider-bin-dir is missing \(the directory holding the plugin executables\)/,
    );
  });

  test('the default docker config: missing = anonymous; present but unreadable = an error naming it, not anonymous', async () => {
    const missing = await verify([...identity, image], { HOME: dir, DOCKER_CONFIG: join(dir, 'nowhere') });
    assert.match(missing.err, /\[REGISTRY_UNAUTHORIZED\]/, 'no file: anonymous, refused by the registry');
    const broken = join(dir, 'broken-docker');
    mkdirSync(join(broken, 'config.json'), { recursive: true }); // a directory where the file should be
    const unreadable = await verify([...identity, image], { HOME: dir, DOCKER_CONFIG: broken });
    assert.equal(unreadable.code, 1);
    assert.equal(
      unreadable.err,
      `sigward verify: [CREDENTIALS_INVALID] ${join(broken, 'config.json')} (the docker config: $DOCKER_CONFIG/config.json, else ~/.docker/config.json): EISDIR: it exists but cannot be read (fix it, or point DOCKER_CONFIG at another directory)\n`,
    );
    // HOME is where the default lives when DOCKER_CONFIG is not set, as for docker.
    const home = join(dir, 'home-with-config');
    mkdirSync(join(home, '.docker', 'config.json'), { recursive: true });
    assert.match(
      (await verify([...identity, image], { HOME: home })).err,
      /home-with-config\/\.docker\/config\.json .*EISDIR/,
    );
  });

  test('--registry-config naming no file is refused saying what was expected', () => {
    const missing = join(dir, 'no-such-config.json');
    assert.throws(() => registryConfigKeychain(missing), {
      message: `--registry-config ${missing}: ENOENT: expected a docker config.json file (fix the path or drop the flag)`,
    });
  });
});

/** A plugin config whose one provider answers the registry's password (the test plugin). */
function pluginSetup(name: string): { config: string; bin: string; calls: string } {
  const bin = join(dir, `${name}-bin`);
  mkdirSync(bin);
  symlinkSync(join(programs, 'test-credential-provider'), join(bin, 'registry-plugin'));
  const response = join(dir, `${name}-response.json`);
  const calls = join(dir, `${name}-calls`);
  writeFileSync(
    response,
    JSON.stringify({
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      kind: 'CredentialProviderResponse',
      cacheKeyType: 'Registry',
      auth: { [registry.host]: { username: 'robot', password: secret } },
    }),
  );
  const config = join(dir, `${name}-providers.yaml`);
  writeFileSync(
    config,
    [
      'apiVersion: kubelet.config.k8s.io/v1',
      'kind: CredentialProviderConfig',
      'providers:',
      '  - name: registry-plugin',
      `    matchImages: ["${registry.host}"]`,
      '    defaultCacheDuration: 1h',
      '    apiVersion: credentialprovider.kubelet.k8s.io/v1',
      `    env: [{name: TEST_PLUGIN_RESPONSE, value: "${response}"}, {name: TEST_PLUGIN_CALLS, value: "${calls}"}]`,
      '',
    ].join('\n'),
  );
  return { config, bin, calls };
}

/** Runs `sigward webhook` (no cluster, a policy for the registry) with these flags; judges a Pod of the image. */
async function judgedByWebhook(
  flags: readonly string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<{ message: string; logs: string }> {
  const policies = join(dir, 'policies');
  mkdirSync(policies, { recursive: true });
  writeFileSync(
    join(policies, 'private.yaml'),
    [
      'apiVersion: policy.sigward.dev/v1alpha1',
      'kind: ClusterImagePolicy',
      'metadata: {name: private-registry}',
      'spec:',
      `  images: ["${registry.host}/**"]`,
      '  mode: enforce',
      '  authorities:',
      '    - name: release',
      '      keyless:',
      '        identities: [{issuer: "https://accounts.example.com", subject: "someone@example.com"}]',
      '',
    ].join('\n'),
  );
  const webhook = await startWebhook(
    [`--policies=${policies}`, `--trusted-root=${PROD_ROOT_PATH}`, '--cloud-credentials=none', ...flags],
    { HOME: dir, ...extraEnv },
  );
  let message: string;
  try {
    const answer = await webhook.post('/validate', JSON.stringify(podReview([image])));
    const response = (
      JSON.parse(answer.body) as { response: { allowed: boolean; status: { message: string } } }
    ).response;
    assert.equal(response.allowed, false);
    message = response.status.message;
  } finally {
    await webhook.stop();
  }
  // Every log line the webhook wrote, for the no-secret checks.
  return { message, logs: `${webhook.stdout()}${webhook.stderr()}` };
}

describe('sigward webhook: a Pod image in a private registry is read (SIGNATURE_MISSING, not REGISTRY_AUTH)', () => {
  const missing = /no signatures found .*\[SIGNATURE_MISSING\]$/;

  test('without any source: REGISTRY_AUTH', { timeout: 60_000 }, async () => {
    const { message } = await judgedByWebhook([]);
    assert.match(message, /refused access: .*\[REGISTRY_AUTH\]$/);
  });

  test('--credential-provider-config: the plugin runs once', { timeout: 60_000 }, async () => {
    const plugin = pluginSetup('webhook');
    const { message, logs } = await judgedByWebhook([
      `--credential-provider-config=${plugin.config}`,
      `--credential-provider-bin-dir=${plugin.bin}`,
    ]);
    assert.match(message, missing);
    assert.ok(!logs.includes(secret), 'the plugin password is in no log line');
    assert.equal(readFileSync(plugin.calls, 'utf8').trim().split('\n').length, 1, 'the plugin ran once');
  });

  test('--registry-config with credHelpers: the helper gives the password', { timeout: 60_000 }, async () => {
    const config = join(dir, 'webhook-docker.json');
    const answers = join(dir, 'webhook-answers');
    mkdirSync(answers);
    writeFileSync(config, JSON.stringify({ credHelpers: { [registry.host]: 'sigward-test' } }));
    writeFileSync(join(answers, registry.host), JSON.stringify({ Username: 'robot', Secret: secret }));
    const { message, logs } = await judgedByWebhook([`--registry-config=${config}`], {
      PATH: `${programs}${delimiter}${process.env['PATH'] ?? ''}`,
      TEST_HELPER_ANSWERS: answers,
    });
    assert.match(message, missing);
    assert.ok(!logs.includes(secret), 'the helper password is in no log line');
  });
});

test('sigward webhook: a bad credential provider config stops it at start, naming the file and field', async () => {
  const config = join(dir, 'bad-providers.yaml');
  writeFileSync(
    config,
    'apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: p\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n  matchImages: []\n  defaultCacheDuration: 1h\n',
  );
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: '/nonexistent', HOME: '/nonexistent' };
  delete env['KUBERNETES_SERVICE_HOST'];
  const result = await new Promise<{ code: number; stderr: string }>((done) =>
    execFile(
      resolve('bin/sigward'),
      [
        'webhook',
        '--listen=127.0.0.1:0',
        `--credential-provider-config=${config}`,
        `--credential-provider-bin-dir=${dir}`,
      ],
      { env },
      (error, _stdout, stderr) => done({ code: Number(error?.code ?? 0), stderr }),
    ),
  );
  assert.equal(result.code, 2, 'a start-up setting error, as for --cloud-credentials');
  assert.match(
    result.stderr,
    /credential provider config .*bad-providers\.yaml: providers\[0\]\.matchImages needs at least 1 item/,
  );
});
