// Kubelet credential provider plugins run as the kubelet runs them, with a plugin written for these
// tests (test/support/credential-programs/test-credential-provider: records each request, answers what
// the test says) and, at the end, a real registry that only accepts the plugin's password.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SigwardError } from '../../src/errors.ts';
import {
  CredentialProviderPlugins,
  readCredentialProviderConfig,
  type CredentialProviderPluginsOptions,
} from '../../src/exec-credentials/index.ts';
import { RegistryClient, parseReference, type ObtainedCredential } from '../../src/oci/index.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { pushTestImage } from '../support/images.ts';
import { assertNoSecret } from '../support/no-secret.ts';
import { rejectsWithCode } from '../support/cloud-assertions.ts';

const testPlugin = resolve('test/support/credential-programs/test-credential-provider');
const secret = 'plugin-password-Zm9vYmFyYmF6cXV4cXV1eA';
let root: string;
let caseNumber = 0;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'sigward-plugins-'));
});

interface World {
  readonly dir: string;
  readonly calls: () => string[];
  readonly answer: (response: unknown) => void;
  readonly clock: { now: number };
  plugins(options?: CredentialProviderPluginsOptions): CredentialProviderPlugins;
}

/** A bin dir holding the test plugin under each provider's name, a config, and the plugin's files. */
function world(providers: readonly Record<string, unknown>[], env: Record<string, string> = {}): World {
  const dir = join(root, `case-${++caseNumber}`);
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const callsFile = join(dir, 'calls');
  const responseFile = join(dir, 'response.json');
  const configFile = join(dir, 'config.yaml');
  const withDefaults = providers.map((p) => ({
    apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
    defaultCacheDuration: '0',
    ...p,
    env: [
      { name: 'TEST_PLUGIN_CALLS', value: callsFile },
      { name: 'TEST_PLUGIN_RESPONSE', value: responseFile },
      ...Object.entries(env).map(([name, value]) => ({ name, value })),
      ...((p['env'] as unknown[] | undefined) ?? []),
    ],
  }));
  for (const p of providers) symlinkSync(testPlugin, join(bin, String(p['name'])));
  writeFileSync(
    configFile,
    JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1',
      kind: 'CredentialProviderConfig',
      providers: withDefaults,
    }),
  );
  const clock = { now: 1_000_000 };
  return {
    dir,
    clock,
    calls: () => (existsSync(callsFile) ? readFileSync(callsFile, 'utf8').trim().split('\n') : []),
    answer: (response) => writeFileSync(responseFile, JSON.stringify(response)),
    plugins: (options = {}) =>
      new CredentialProviderPlugins(readCredentialProviderConfig(configFile, bin), {
        now: () => clock.now,
        ...options,
      }),
  };
}

function response(auth: Record<string, { username: string; password: string }>, extra: object = {}) {
  return {
    apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
    kind: 'CredentialProviderResponse',
    cacheKeyType: 'Registry',
    auth,
    ...extra,
  };
}

async function obtain(
  plugins: CredentialProviderPlugins,
  registry: string,
  repository: string,
  refresh = false,
): Promise<readonly ObtainedCredential[] | undefined> {
  const [credential, ...more] = plugins.keychain().credentialsFor(registry, repository);
  assert.equal(more.length, 0, 'one lazy credential for all matching providers');
  if (credential === undefined) return undefined;
  assert.equal(credential.kind, 'exchange');
  if (credential.kind !== 'exchange') throw new Error('unreachable');
  return [await credential.obtain({ refresh })].flat();
}

const passwords = (list: readonly ObtainedCredential[] | undefined): string[] =>
  (list ?? []).map((o) => (o.credential.kind === 'basic' ? o.credential.password : 'not basic'));

describe('which images a plugin is asked about', () => {
  test('matchImages decides: a matching image runs the plugin with the kubelet request, another does not', async () => {
    const w = world(
      [{ name: 'ecr-like', matchImages: ['*.dkr.ecr.*.amazonaws.com'], args: ['get-credentials', '--v=2'] }],
      { TEST_PLUGIN_MARK: 'from-config-env' },
    );
    w.answer(
      response({ '111122223333.dkr.ecr.eu-west-1.amazonaws.com': { username: 'AWS', password: secret } }),
    );
    const plugins = w.plugins();
    assert.equal(await obtain(plugins, 'registry.example.com', 'team/app'), undefined);
    assert.equal(
      await obtain(plugins, '111122223333.dkr.ecr.eu-west-1.amazonaws.com.evil.io', 'app'),
      undefined,
    );
    assert.deepEqual(w.calls(), []);
    const found = await obtain(plugins, '111122223333.dkr.ecr.eu-west-1.amazonaws.com', 'team/app');
    assert.deepEqual(passwords(found), [secret]);
    const [call] = w.calls();
    const [args, mark, request] = (call ?? '').split('|');
    assert.equal(args, 'get-credentials --v=2');
    assert.equal(mark, 'from-config-env');
    assert.deepEqual(JSON.parse(request ?? ''), {
      kind: 'CredentialProviderRequest',
      apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
      image: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/app',
    });
  });

  test('Docker Hub images are named as the kubelet names them: docker.io/library/x', async () => {
    const w = world([{ name: 'hub', matchImages: ['docker.io'] }]);
    w.answer(response({ 'docker.io': { username: 'u', password: secret } }));
    assert.deepEqual(passwords(await obtain(w.plugins(), 'index.docker.io', 'library/nginx')), [secret]);
    assert.match(w.calls()[0] ?? '', /"image":"docker\.io\/library\/nginx"/);
  });
});

describe('cache durations and cache key types', () => {
  test('Registry: another repository of the registry reuses the answer until cacheDuration passes', async () => {
    const w = world([{ name: 'p', matchImages: ['*.example.com'] }]);
    w.answer(response({ 'reg.example.com': { username: 'u', password: secret } }, { cacheDuration: '1m' }));
    const plugins = w.plugins();
    await obtain(plugins, 'reg.example.com', 'a');
    await obtain(plugins, 'reg.example.com', 'b');
    assert.equal(w.calls().length, 1);
    w.clock.now += 60_000;
    await obtain(plugins, 'reg.example.com', 'c');
    assert.equal(w.calls().length, 1, 'kept while now is not after the expiry');
    w.clock.now += 1;
    await obtain(plugins, 'reg.example.com', 'c');
    assert.equal(w.calls().length, 2);
  });

  test('Registry: images of the registry asked at once share one run, also once the answer expired', async () => {
    const w = world([{ name: 'p', matchImages: ['*.example.com'] }]);
    w.answer(response({ 'reg.example.com': { username: 'u', password: secret } }, { cacheDuration: '1m' }));
    const plugins = w.plugins();
    await obtain(plugins, 'reg.example.com', 'a');
    w.clock.now += 60_001;
    const found = await Promise.all(['b', 'c', 'd'].map((repo) => obtain(plugins, 'reg.example.com', repo)));
    assert.deepEqual(found.map(passwords), [[secret], [secret], [secret]]);
    assert.equal(w.calls().length, 2, 'one run for a, one shared by b, c and d');
  });

  test('Image: kept for that repository only', async () => {
    const w = world([{ name: 'p', matchImages: ['*.example.com'] }]);
    w.answer(
      response(
        { 'reg.example.com': { username: 'u', password: secret } },
        { cacheKeyType: 'Image', cacheDuration: '1h' },
      ),
    );
    const plugins = w.plugins();
    await obtain(plugins, 'reg.example.com', 'a');
    await obtain(plugins, 'reg.example.com', 'a');
    await obtain(plugins, 'reg.example.com', 'b');
    assert.equal(w.calls().length, 2);
  });

  test('Global: kept for every image the provider matches', async () => {
    const w = world([{ name: 'p', matchImages: ['*.example.com'] }]);
    w.answer(
      response(
        { '*.example.com': { username: 'u', password: secret } },
        { cacheKeyType: 'Global', cacheDuration: '1h' },
      ),
    );
    const plugins = w.plugins();
    await obtain(plugins, 'one.example.com', 'a');
    assert.deepEqual(passwords(await obtain(plugins, 'two.example.com', 'b')), [secret]);
    assert.equal(w.calls().length, 1);
  });

  test('cacheDuration "0" is never kept; absent, the provider default applies (0: not kept)', async () => {
    const zero = world([{ name: 'p', matchImages: ['*.example.com'], defaultCacheDuration: '1h' }]);
    zero.answer(
      response({ 'reg.example.com': { username: 'u', password: secret } }, { cacheDuration: '0s' }),
    );
    const p0 = zero.plugins();
    await obtain(p0, 'reg.example.com', 'a');
    await obtain(p0, 'reg.example.com', 'a');
    assert.equal(zero.calls().length, 2);

    const byDefault = world([{ name: 'p', matchImages: ['*.example.com'], defaultCacheDuration: '10m' }]);
    byDefault.answer(response({ 'reg.example.com': { username: 'u', password: secret } }));
    const p1 = byDefault.plugins();
    await obtain(p1, 'reg.example.com', 'a');
    byDefault.clock.now += 9 * 60_000;
    await obtain(p1, 'reg.example.com', 'a');
    assert.equal(byDefault.calls().length, 1);

    const noDefault = world([{ name: 'p', matchImages: ['*.example.com'], defaultCacheDuration: '0' }]);
    noDefault.answer(response({ 'reg.example.com': { username: 'u', password: secret } }));
    const p2 = noDefault.plugins();
    await obtain(p2, 'reg.example.com', 'a');
    await obtain(p2, 'reg.example.com', 'a');
    assert.equal(noDefault.calls().length, 2);
  });

  test('a refused answer is asked for again even while cached', async () => {
    const w = world([{ name: 'p', matchImages: ['*.example.com'] }]);
    w.answer(response({ 'reg.example.com': { username: 'u', password: secret } }, { cacheDuration: '1h' }));
    const plugins = w.plugins();
    await obtain(plugins, 'reg.example.com', 'a');
    await obtain(plugins, 'reg.example.com', 'a', true);
    assert.equal(w.calls().length, 2);
  });

  test('concurrent requests for one image share one run', async () => {
    const w = world([{ name: 'p', matchImages: ['*.example.com'] }]);
    w.answer(response({ 'reg.example.com': { username: 'u', password: secret } }));
    const plugins = w.plugins();
    await Promise.all([1, 2, 3].map(() => obtain(plugins, 'reg.example.com', 'a')));
    assert.equal(w.calls().length, 1);
  });
});

describe('which auth entries apply', () => {
  test('every matching entry, in the kubelet keyring order (keys sorted in reverse)', async () => {
    const w = world([{ name: 'p', matchImages: ['*.io'] }]);
    w.answer(
      response({
        '*.io': { username: 'u', password: 'glob' },
        'https://reg.io/v2/': { username: 'u', password: 'host' },
        'reg.io/team': { username: 'u', password: 'team' },
        'other.io': { username: 'u', password: 'other' },
        'reg.io:5000': { username: 'u', password: 'port' },
      }),
    );
    assert.deepEqual(passwords(await obtain(w.plugins(), 'reg.io', 'team/app')), ['team', 'host', 'glob']);
  });

  test('two providers matching one image: their entries together, in that same order', async () => {
    const w = world([
      { name: 'first', matchImages: ['reg.io'] },
      { name: 'second', matchImages: ['*.io'] },
    ]);
    w.answer(response({ 'reg.io': { username: 'u', password: secret } }));
    const found = await obtain(w.plugins(), 'reg.io', 'app');
    assert.deepEqual(passwords(found), [secret, secret]);
    assert.equal(w.calls().length, 2);
  });

  test('no matching entry: no credential (anonymous), as the kubelet', async () => {
    const w = world([{ name: 'p', matchImages: ['*.io'] }]);
    w.answer(response({ 'elsewhere.io': { username: 'u', password: secret } }));
    assert.deepEqual(await obtain(w.plugins(), 'reg.io', 'app'), []);
  });
});

describe('failures are coded, bounded and never hold a secret', () => {
  const failing: readonly [
    name: string,
    make: (w: World) => void,
    env: Record<string, string>,
    expected: RegExp,
  ][] = [
    [
      'an answer that is not JSON',
      (w) => writeFileSync(join(w.dir, 'response.json'), `{"auth": "${secret}"`),
      {},
      /its answer is not JSON/,
    ],
    [
      'another apiVersion',
      (w) =>
        w.answer({
          ...response({ 'reg.io': { username: 'u', password: secret } }),
          apiVersion: 'credentialprovider.kubelet.k8s.io/v1alpha1',
        }),
      {},
      /apiVersion credentialprovider\.kubelet\.k8s\.io\/v1alpha1 is not the expected credentialprovider\.kubelet\.k8s\.io\/v1/,
    ],
    [
      'an unknown cacheKeyType',
      (w) => w.answer(response({ 'reg.io': { username: 'u', password: secret } }, { cacheKeyType: 'Pod' })),
      {},
      /no valid cacheKeyType/,
    ],
    [
      'an unknown field',
      (w) => w.answer(response({ 'reg.io': { username: 'u', password: secret } }, { token: secret })),
      {},
      /unknown field "token"/,
    ],
    [
      'a bad cacheDuration',
      (w) =>
        w.answer(response({ 'reg.io': { username: 'u', password: secret } }, { cacheDuration: '12 hours' })),
      {},
      /invalid cacheDuration/,
    ],
    [
      'a non-zero exit (stderr shown, token-like runs redacted)',
      () => undefined,
      { TEST_PLUGIN_EXIT: '3', TEST_PLUGIN_STDERR: `failed to assume role with ${secret}` },
      /exit status 3: failed to assume role with \[redacted\]/,
    ],
    ['an answer past the size limit', () => undefined, { TEST_PLUGIN_FLOOD: '1' }, /larger than allowed/],
  ];
  for (const [name, make, env, expected] of failing) {
    test(`${name}: REGISTRY_UNAUTHORIZED naming the plugin and the image`, async () => {
      const w = world([{ name: 'p', matchImages: ['reg.io'] }], env);
      make(w);
      const error = await rejectsWithCode(obtain(w.plugins(), 'reg.io', 'app'));
      assert.match(error.message, /^credential provider plugin p gave no credentials for reg\.io\/app: /);
      assert.match(error.message, expected);
      assertNoSecret(error, [secret]);
    });
  }

  test('a plugin that never answers is killed at the timeout', async () => {
    const w = world([{ name: 'p', matchImages: ['reg.io'] }], { TEST_PLUGIN_HANG: '1' });
    await assert.rejects(
      obtain(w.plugins({ timeoutMs: 300 }), 'reg.io', 'app'),
      /did not answer within 0\.3 s and was killed/,
    );
  });

  test('a failing provider contributes nothing while another one answers', async () => {
    const w = world([
      { name: 'broken', matchImages: ['reg.io'], env: [{ name: 'TEST_PLUGIN_EXIT', value: '1' }] },
      { name: 'working', matchImages: ['reg.io'] },
    ]);
    w.answer(response({ 'reg.io': { username: 'u', password: secret } }));
    assert.deepEqual(passwords(await obtain(w.plugins(), 'reg.io', 'app')), [secret]);
  });
});

describe('the config, checked as the kubelet checks it', () => {
  const bad: readonly [name: string, provider: Record<string, unknown>, expected: RegExp][] = [
    ['a name with a slash', { name: 'a/b', matchImages: ['x.io'] }, /provider name cannot contain '\/'/],
    ['no matchImages', { name: 'p', matchImages: [] }, /matchImages needs at least 1 item/],
    [
      'a negative defaultCacheDuration',
      { name: 'p', matchImages: ['x.io'], defaultCacheDuration: '-1m' },
      /must be >= 0/,
    ],
    [
      'an unknown apiVersion',
      { name: 'p', matchImages: ['x.io'], apiVersion: 'credentialprovider.kubelet.k8s.io/v2' },
      /apiVersion must be one of/,
    ],
    [
      'tokenAttributes',
      {
        name: 'p',
        matchImages: ['x.io'],
        tokenAttributes: { serviceAccountTokenAudience: 'a', requireServiceAccount: true },
      },
      /tokenAttributes is not supported by sigward/,
    ],
    [
      'an unknown field',
      { name: 'p', matchImages: ['x.io'], matchImage: ['typo.io'] },
      /unknown field "matchImage"/,
    ],
  ];
  for (const [name, provider, expected] of bad) {
    test(`refused: ${name}`, () => {
      const dir = join(root, `config-${++caseNumber}`);
      mkdirSync(join(dir, 'bin'), { recursive: true });
      symlinkSync(testPlugin, join(dir, 'bin', 'p'));
      const file = join(dir, 'config.yaml');
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'kubelet.config.k8s.io/v1',
          kind: 'CredentialProviderConfig',
          providers: [
            { apiVersion: 'credentialprovider.kubelet.k8s.io/v1', defaultCacheDuration: '1h', ...provider },
          ],
        }),
      );
      assert.throws(
        () => readCredentialProviderConfig(file, join(dir, 'bin')),
        (error) => {
          assert.ok(error instanceof SigwardError);
          assert.equal(error.code, 'CONFIG_INVALID');
          assert.match(error.message, expected);
          return true;
        },
      );
    });
  }

  test('a plugin missing from the bin dir, and a missing bin dir, are refused at start', () => {
    const dir = join(root, `config-${++caseNumber}`);
    mkdirSync(join(dir, 'bin'), { recursive: true });
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      'apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: ecr-credential-provider\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n  matchImages: ["*.dkr.ecr.*.amazonaws.com"]\n  defaultCacheDuration: 12h\n',
    );
    assert.throws(
      () => readCredentialProviderConfig(file, join(dir, 'bin')),
      /plugin binary executable .*ecr-credential-provider did not exist/,
    );
    assert.throws(
      () => readCredentialProviderConfig(file, join(dir, 'nowhere')),
      /plugin binary directory .* did not exist/,
    );
  });

  test('a directory of configs is merged in name order; a duplicate name is refused', () => {
    const dir = join(root, `config-${++caseNumber}`);
    mkdirSync(join(dir, 'bin'), { recursive: true });
    mkdirSync(join(dir, 'conf.d'));
    for (const name of ['a', 'b']) symlinkSync(testPlugin, join(dir, 'bin', name));
    const doc = (name: string): string =>
      `apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n- name: ${name}\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n  matchImages: [x.io]\n  defaultCacheDuration: 1h\n`;
    writeFileSync(join(dir, 'conf.d', '20-b.yaml'), doc('b'));
    writeFileSync(join(dir, 'conf.d', '10-a.yml'), doc('a'));
    writeFileSync(join(dir, 'conf.d', 'README.txt'), 'not a config');
    const providers = readCredentialProviderConfig(join(dir, 'conf.d'), join(dir, 'bin'));
    assert.deepEqual(
      providers.map((p) => p.name),
      ['a', 'b'],
    );
    assert.equal(providers[0]?.defaultCacheDurationMs, 3_600_000);
    writeFileSync(
      join(dir, 'conf.d', '30-a-again.json'),
      JSON.stringify({
        apiVersion: 'kubelet.config.k8s.io/v1',
        kind: 'CredentialProviderConfig',
        providers: [
          {
            name: 'a',
            apiVersion: 'credentialprovider.kubelet.k8s.io/v1',
            matchImages: ['y.io'],
            defaultCacheDuration: '1h',
          },
        ],
      }),
    );
    assert.throws(
      () => readCredentialProviderConfig(join(dir, 'conf.d'), join(dir, 'bin')),
      /duplicate provider name "a"/,
    );
  });
});

describe('against a real registry that only accepts the plugin password', () => {
  let registry: DockerRegistry;
  before(async () => {
    registry = await startDockerRegistry({ auth: { kind: 'htpasswd', users: { puller: secret } } });
  });
  afterEach((t) => registry.noteResult(t));
  after(async () => registry?.stop());

  test('several matching entries are tried in order: a refused one falls through to the next', async () => {
    const w = world([{ name: 'p', matchImages: [registry.host] }]);
    w.answer(
      response({
        [`${registry.host}/team`]: { username: 'puller', password: 'stale-password' },
        [registry.host]: { username: 'puller', password: secret },
      }),
    );
    const client = new RegistryClient({ keychain: w.plugins().keychain() });
    try {
      await pushTestImage(client, { registry: registry.host, repository: 'team/other' }, { tag: 'v1' });
      const descriptor = await client.resolve(parseReference(`${registry.host}/team/other:v1`));
      assert.match(descriptor.digest, /^sha256:/);
    } finally {
      await client.close();
    }
  });

  test('push and pull with the credentials the plugin gave, nothing configured otherwise', async () => {
    // A port is never globbed: the pattern names the registry's own.
    const w = world([{ name: 'p', matchImages: [registry.host] }]);
    w.answer(
      response({ [registry.host]: { username: 'puller', password: secret } }, { cacheDuration: '5m' }),
    );
    const client = new RegistryClient({ keychain: w.plugins().keychain() });
    try {
      const image = await pushTestImage(
        client,
        { registry: registry.host, repository: 'team/app' },
        { tag: 'v1' },
      );
      const fetched = await client.getManifest(parseReference(`${registry.host}/team/app:v1`));
      assert.equal(fetched.digest, image.digest);
      assert.equal(w.calls().length, 1, 'one plugin run for the whole push and pull (Registry cache key)');
    } finally {
      await client.close();
    }
  });
});
