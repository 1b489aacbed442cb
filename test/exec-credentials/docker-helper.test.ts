// Docker credential helpers named by a docker config FILE, run through the real protocol with a helper
// written for these tests (test/support/credential-programs/docker-credential-sigward-test), against a
// real registry that only accepts the helper's password. Pull secrets never run a helper.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { SigwardError } from '../../src/errors.ts';
import {
  DockerCredentialHelpers,
  dockerConfigFileKeychain,
  type DockerCredentialHelpersOptions,
} from '../../src/exec-credentials/index.ts';
import {
  RegistryClient,
  dockerConfigKeychain,
  parseDockerConfigJson,
  parseReference,
  staticKeychain,
  type ObtainedCredential,
} from '../../src/oci/index.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { pushTestImage } from '../support/images.ts';
import { assertNoSecret } from '../support/no-secret.ts';
import { rejectsWithCode } from '../support/cloud-assertions.ts';

const helperDir = resolve('test/support/credential-programs');
const secret = 'helper-password-c2VjcmV0c2VjcmV0c2VjcmV0';
/** Short, with characters that end a token-like run: only its place in the answer can cut it. */
const shortSecret = 'P@ss!w0rd';
let root: string;
let n = 0;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'sigward-helpers-'));
});

interface Setup {
  readonly calls: () => string[];
  /** What the helper answers for a server URL. */
  readonly answer: (serverUrl: string, body: unknown) => void;
  helpers(options?: DockerCredentialHelpersOptions, env?: Record<string, string>): DockerCredentialHelpers;
}

function setup(): Setup {
  const dir = join(root, `case-${++n}`);
  const answers = join(dir, 'answers');
  mkdirSync(answers, { recursive: true });
  const callsFile = join(dir, 'calls');
  return {
    calls: () => (existsSync(callsFile) ? readFileSync(callsFile, 'utf8').trim().split('\n') : []),
    answer: (serverUrl, body) =>
      writeFileSync(join(answers, serverUrl.replaceAll('/', '_')), JSON.stringify(body)),
    helpers: (options = {}, env = {}) =>
      new DockerCredentialHelpers({
        ...options,
        env: {
          PATH: `${helperDir}${delimiter}${process.env['PATH'] ?? ''}`,
          TEST_HELPER_CALLS: callsFile,
          TEST_HELPER_ANSWERS: answers,
          ...env,
        },
      }),
  };
}

async function obtainAll(
  keychain: ReturnType<typeof dockerConfigFileKeychain>,
  registry: string,
  repository = 'team/app',
): Promise<readonly ObtainedCredential[]> {
  const [credential] = keychain.credentialsFor(registry, repository);
  if (credential?.kind !== 'exchange')
    throw new Error(`expected a helper credential, got ${credential?.kind}`);
  return [await credential.obtain({ refresh: false })].flat();
}

describe('which helper a registry asks', () => {
  test('credHelpers for its host, credsStore for the others, auths only without either', async () => {
    const s = setup();
    const config = parseDockerConfigJson(
      JSON.stringify({
        auths: { 'reg.example.com': { auth: Buffer.from('file:user').toString('base64') } },
        credHelpers: { 'reg.example.com': 'sigward-test' },
      }),
      'config.json',
    );
    const keychain = dockerConfigFileKeychain(config, s.helpers());
    s.answer('reg.example.com', { ServerURL: 'reg.example.com', Username: 'robot', Secret: secret });
    const [found] = await obtainAll(keychain, 'reg.example.com');
    assert.deepEqual(found?.credential, { kind: 'basic', username: 'robot', password: secret });
    assert.deepEqual(s.calls(), ['get reg.example.com']);
    assert.deepEqual(keychain.credentialsFor('other.example.com', 'x'), [], 'no helper, no auths entry');

    const store = parseDockerConfigJson(
      JSON.stringify({ auths: { 'reg.example.com': {} }, credsStore: 'sigward-test' }),
      'config.json',
    );
    const storeKeychain = dockerConfigFileKeychain(store, s.helpers());
    await obtainAll(storeKeychain, 'index.docker.io', 'library/nginx');
    assert.equal(s.calls().at(-1), 'get https://index.docker.io/v1/', "Docker Hub is asked by docker's key");
  });

  test('a pull secret naming helpers never runs one (a tenant must not choose programs)', () => {
    const s = setup();
    const secretConfig = parseDockerConfigJson(
      JSON.stringify({ credHelpers: { 'reg.example.com': 'sigward-test' }, credsStore: 'sigward-test' }),
      'secret ns/regcred',
    );
    assert.deepEqual(dockerConfigKeychain([secretConfig]).credentialsFor('reg.example.com', 'app'), []);
    assert.deepEqual(s.calls(), []);
  });

  test('a helper name that could leave the PATH lookup is refused when the file is read', () => {
    for (const name of ['../../bin/sh', '/bin/sh', 'a b']) {
      assert.throws(
        () => parseDockerConfigJson(JSON.stringify({ credsStore: name }), 'config.json'),
        (error) => error instanceof SigwardError && error.code === 'CREDENTIALS_INVALID',
      );
    }
  });
});

describe('the helper protocol', () => {
  test('"<token>" as the username means the secret is an identity token', async () => {
    const s = setup();
    s.answer('reg.example.com', { Username: '<token>', Secret: secret });
    const found = await s.helpers().get('sigward-test', 'reg.example.com');
    assert.deepEqual(found[0]?.credential, { kind: 'identity-token', identityToken: secret });
  });

  test('"credentials not found" is no credential (anonymous), not an error', async () => {
    const s = setup();
    assert.deepEqual(await s.helpers().get('sigward-test', 'reg.example.com'), []);
  });

  test('an answer is reused for a while, then the helper is asked again; a refusal asks again at once', async () => {
    const s = setup();
    const clock = { now: 0 };
    s.answer('reg.example.com', { Username: 'robot', Secret: secret });
    const helpers = s.helpers({ now: () => clock.now, reuseMs: 1000 });
    await helpers.get('sigward-test', 'reg.example.com');
    await helpers.get('sigward-test', 'reg.example.com');
    assert.equal(s.calls().length, 1);
    clock.now += 1000;
    await helpers.get('sigward-test', 'reg.example.com');
    assert.equal(s.calls().length, 2);
    await helpers.get('sigward-test', 'reg.example.com', true);
    assert.equal(s.calls().length, 3);
  });

  test('callers sharing one run keep its answer once: a full cache does not lose another registry', async () => {
    const s = setup();
    s.answer('a.example.com', { Username: 'robot', Secret: secret });
    s.answer('b.example.com', { Username: 'robot', Secret: secret });
    const helpers = s.helpers({ maxEntries: 2 });
    await helpers.get('sigward-test', 'a.example.com');
    // Three callers wait for one run for b: room for a and b, so a stays kept.
    await Promise.all([1, 2, 3].map(() => helpers.get('sigward-test', 'b.example.com')));
    await helpers.get('sigward-test', 'a.example.com');
    assert.deepEqual(s.calls(), ['get a.example.com', 'get b.example.com']);
  });

  const failing: readonly [
    name: string,
    env: Record<string, string>,
    options: DockerCredentialHelpersOptions,
    helper: string,
    expected: RegExp,
  ][] = [
    [
      'a helper error (its stdout, token-like runs redacted)',
      { TEST_HELPER_EXIT: '1', TEST_HELPER_OUTPUT: `error getting credentials: token ${secret} expired` },
      {},
      'sigward-test',
      /exit status 1: error getting credentials: token \[redacted\] expired/,
    ],
    [
      // Its last line is its own answer: the Secret field is cut whatever its length or characters.
      'a helper that printed its answer and then failed',
      {
        TEST_HELPER_EXIT: '1',
        TEST_HELPER_OUTPUT: `{"ServerURL":"reg.example.com","Username":"bob","Secret":"${shortSecret}"}`,
      },
      {},
      'sigward-test',
      /exit status 1: \{"ServerURL":"reg\.example\.com","Username":"bob","Secret":"\[redacted\]"\}$/,
    ],
    [
      'a helper that is not installed',
      {},
      {},
      'not-installed',
      /docker-credential-not-installed is not on PATH/,
    ],
    [
      'a helper that never answers',
      { TEST_HELPER_HANG: '1' },
      { timeoutMs: 300 },
      'sigward-test',
      /did not answer within 0\.3 s/,
    ],
  ];
  for (const [name, env, options, helper, expected] of failing) {
    test(`${name}: REGISTRY_UNAUTHORIZED naming the helper and the registry, no secret`, async () => {
      const s = setup();
      const error = await rejectsWithCode(s.helpers(options, env).get(helper, 'reg.example.com'));
      assert.match(
        error.message,
        new RegExp(`^docker-credential-${helper} gave no credentials for reg\\.example\\.com: `),
      );
      assert.match(error.message, expected);
      assertNoSecret(error, [secret, shortSecret]);
    });
  }

  test('a helper not on PATH: the error names the config entry that asked for it and the file', async () => {
    const s = setup();
    const config = parseDockerConfigJson(
      JSON.stringify({ credHelpers: { 'own.example.com': 'not-installed' }, credsStore: 'also-missing' }),
      '/home/me/.docker/config.json',
    );
    const keychain = dockerConfigFileKeychain(config, s.helpers(), '/home/me/.docker/config.json');
    const own = await rejectsWithCode(obtainAll(keychain, 'own.example.com'));
    assert.equal(
      own.message,
      'docker-credential-not-installed gave no credentials for own.example.com: docker-credential-not-installed is not on PATH (named by credHelpers["own.example.com"] in /home/me/.docker/config.json: install it or remove the entry)',
    );
    const other = await rejectsWithCode(obtainAll(keychain, 'other.example.com'));
    assert.match(
      other.message,
      /docker-credential-also-missing is not on PATH \(named by credsStore in \/home\/me\/\.docker\/config\.json: install it or remove the entry\)$/,
    );
  });

  test('an answer that is not the protocol is refused without quoting it', async () => {
    const s = setup();
    s.answer('reg.example.com', { username: 'robot', password: secret });
    await assert.rejects(s.helpers().get('sigward-test', 'reg.example.com'), (error) => {
      assert.match(String((error as Error).message), /lacks the string fields Username and Secret/);
      assertNoSecret(error, [secret]);
      return true;
    });
  });
});

describe('against a real registry that only accepts the helper password', () => {
  let registry: DockerRegistry;
  before(async () => {
    registry = await startDockerRegistry({ auth: { kind: 'htpasswd', users: { robot: secret } } });
  });
  afterEach((t) => registry.noteResult(t));
  after(async () => registry?.stop());

  test('push and pull with no password in the config: the helper is asked once', async () => {
    const s = setup();
    s.answer(registry.host, { Username: 'robot', Secret: secret });
    const config = parseDockerConfigJson(
      JSON.stringify({ credHelpers: { [registry.host]: 'sigward-test' } }),
      'config.json',
    );
    const client = new RegistryClient({ keychain: dockerConfigFileKeychain(config, s.helpers()) });
    try {
      const image = await pushTestImage(
        client,
        { registry: registry.host, repository: 'team/app' },
        { tag: 'v1' },
      );
      const fetched = await client.getManifest(parseReference(`${registry.host}/team/app:v1`));
      assert.equal(fetched.digest, image.digest);
      assert.deepEqual(s.calls(), [`get ${registry.host}`]);
    } finally {
      await client.close();
    }
  });

  test('a helper with nothing for the registry: tried anonymously, refused with a clear error', async () => {
    const s = setup();
    const config = parseDockerConfigJson(JSON.stringify({ credsStore: 'sigward-test' }), 'config.json');
    const client = new RegistryClient({ keychain: dockerConfigFileKeychain(config, s.helpers()) });
    try {
      const error = await rejectsWithCode(client.resolve(parseReference(`${registry.host}/team/app:v1`)));
      assert.match(error.message, /asks for Basic credentials and none apply/);
      assert.deepEqual(s.calls(), [`get ${registry.host}`]);
    } finally {
      await client.close();
    }
  });
});

describe('against a token-auth registry that lets anonymous clients pull', () => {
  let registry: DockerRegistry;
  before(async () => {
    registry = await startDockerRegistry({
      auth: { kind: 'token', users: { robot: secret }, anonymousPull: true },
    });
  });
  afterEach((t) => registry.noteResult(t));
  after(async () => registry?.stop());

  test('a helper with nothing for the registry: the anonymous token is fetched and the pull works', async () => {
    const pusher = new RegistryClient({
      keychain: staticKeychain({ [registry.host]: { kind: 'basic', username: 'robot', password: secret } }),
    });
    let digest: string;
    try {
      digest = (
        await pushTestImage(pusher, { registry: registry.host, repository: 'public/app' }, { tag: 'v1' })
      ).digest;
    } finally {
      await pusher.close();
    }
    const s = setup();
    const config = parseDockerConfigJson(JSON.stringify({ credsStore: 'sigward-test' }), 'config.json');
    const client = new RegistryClient({ keychain: dockerConfigFileKeychain(config, s.helpers()) });
    try {
      const descriptor = await client.resolve(parseReference(`${registry.host}/public/app:v1`));
      assert.equal(descriptor.digest, digest);
      assert.deepEqual(s.calls(), [`get ${registry.host}`]);
    } finally {
      await client.close();
    }
  });
});
