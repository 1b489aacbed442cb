// The real client CLIs of the world: the pinned versions are the ones built, and the fence holds (a
// client that reaches for the public Sigstore TUF root or a public registry fails at once, and every
// client's state lives in the run dir).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createClients, deadProxy, type Clients } from './world/clients.ts';
import { getManifest } from './world/oci-http.ts';
import { startOlareg } from './world/registry.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';

const fullTier = process.env.SIGWARD_E2E_TIER === 'full';

describe('client CLIs', () => {
  let runDir: RunDir;
  let clients: Clients;
  let failed = false;
  const check = (name: string, fn: (t: TestContext) => Promise<void>, options: { skip?: string } = {}) =>
    test(name, { skip: options.skip ?? false }, async (t) => {
      try {
        await fn(t);
      } catch (error) {
        failed = true;
        throw error;
      }
    });

  before(() => {
    runDir = createRunDir('sigward-clients-');
    clients = createClients(runDir);
  });
  after(() => {
    if (failed) console.error(`clients e2e: logs kept in ${runDir.keepLogs('clients')}`);
    runDir.remove();
  });

  check('crane is v0.22.1', async () => {
    assert.equal((await clients.crane(['version'])).stdout.trim(), 'v0.22.1');
  });

  check('cosign is v3', async () => {
    const version = await clients.cosign(['version']);
    assert.match(version.stdout + version.stderr, /GitVersion:\s+v3\.\d+\.\d+/);
  });

  check('cosign never reaches the public Sigstore: its TUF refresh fails at once', async () => {
    const started = performance.now();
    const result = await clients.cosign(
      [
        'verify',
        '--certificate-identity=someone',
        '--certificate-oidc-issuer=https://issuer.example',
        `127.0.0.1:9/app@sha256:${'0'.repeat(64)}`,
      ],
      { check: false },
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /tuf-repo-cdn\.sigstore\.dev.*proxyconnect/);
    assert.ok(performance.now() - started < 10_000);
  });

  check('helm is v3 or v4 (v4.3.1 built), and keeps its state in the run dir', async () => {
    const version = await clients.helm(['version', '--short']);
    assert.match(version.stdout.trim(), /^v[34]\.\d+\.\d+/);
    const env = await clients.helm(['env']);
    for (const name of ['HELM_CACHE_HOME', 'HELM_CONFIG_HOME', 'HELM_DATA_HOME']) {
      const line = env.stdout.split('\n').find((l) => l.startsWith(`${name}=`));
      assert.ok(line?.includes(runDir.root), `${name} in the run dir: ${line}`);
    }
  });

  check('helm packages a chart and pushes it to olareg as an OCI artifact, and pulls it back', async () => {
    const registry = await startOlareg(runDir, { referrers: true, name: 'olareg-helm' });
    try {
      const dir = runDir.sub('helm');
      await clients.helm(['create', 'demo'], { cwd: dir });
      await clients.helm(['package', 'demo', '--version', '0.1.0'], { cwd: dir });
      const pushed = await clients.helm(
        ['push', path.join(dir, 'demo-0.1.0.tgz'), `oci://${registry.host}/charts`, '--plain-http'],
        { cwd: dir },
      );
      const digest = /Digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout + pushed.stderr)?.[1];
      assert.ok(digest, pushed.stdout + pushed.stderr);
      const manifest = await getManifest(registry, 'charts/demo', '0.1.0');
      assert.equal(manifest?.computedDigest, digest);
      assert.equal(manifest?.json.config?.mediaType, 'application/vnd.cncf.helm.config.v1+json');
      const pulled = runDir.sub('helm-pulled');
      await clients.helm([
        'pull',
        `oci://${registry.host}/charts/demo`,
        '--version',
        '0.1.0',
        '--plain-http',
        '--destination',
        pulled,
      ]);
      assert.ok(existsSync(path.join(pulled, 'demo-0.1.0.tgz')));
    } finally {
      await registry.stop();
    }
  });

  check(
    'cosign2 (full tier) is v2',
    async () => {
      const version = await clients.cosign2(['version']);
      assert.match(version.stdout + version.stderr, /GitVersion:\s+v2\.\d+\.\d+/);
    },
    fullTier ? {} : { skip: 'full tier only (npm run e2e:full)' },
  );

  check('the clients are fenced: no internet, no secrets in errors', async () => {
    // Every proxy is a dead loopback port: a public registry fails at once instead of being reached.
    const started = performance.now();
    const outside = await clients.crane(['digest', 'registry.example.com/app:1'], { check: false });
    assert.notEqual(outside.code, 0);
    assert.match(outside.stderr, /proxyconnect|127\.0\.0\.1:9/);
    assert.ok(performance.now() - started < 10_000, 'failed fast');
    assert.equal(clients.env.HOME?.startsWith(runDir.root), true);
    assert.equal(clients.env.TUF_ROOT?.startsWith(runDir.root), true);
    assert.equal(clients.env.DOCKER_CONFIG?.startsWith(runDir.root), true);

    const token = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('{"sub":"x"}').toString('base64url')}.c2lnbmF0dXJl`;
    // The token reaches the tool's stderr (crane echoes a bad flag value); the error we raise must not show it.
    const failure = await clients
      .crane(
        [
          'auth',
          'login',
          '127.0.0.1:9',
          '-u',
          'someone',
          '-p',
          'hunter2-password',
          `--identity-token=${token}`,
        ],
        {
          env: { SIGSTORE_ID_TOKEN: 'env-secret-value' },
        },
      )
      .then(
        () => assert.fail('crane auth login with an unknown flag should fail'),
        (error: unknown) => String(error),
      );
    assert.match(failure, /^WorldError: crane auth login 127\.0\.0\.1:9 -u someone -p \[redacted\]/);
    assert.doesNotMatch(failure, /hunter2-password|eyJhbGciOiJSUzI1NiJ9|env-secret-value/);
  });

  check('the fence: clean environment, proxies to a dead port, loopback exempt', async () => {
    assert.equal(clients.env.HTTPS_PROXY, deadProxy);
    assert.match(clients.env.NO_PROXY ?? '', /127\.0\.0\.1/);
    for (const name of ['HOME', 'DOCKER_CONFIG', 'TUF_ROOT', 'XDG_CACHE_HOME', 'KUBECONFIG']) {
      assert.ok(clients.env[name]?.startsWith(runDir.root), `${name} in the run dir`);
    }
    for (const name of Object.keys(clients.env)) {
      assert.doesNotMatch(
        name,
        /TOKEN|PASSWORD|SECRET|AWS_|GOOGLE_|AZURE_|ACTIONS_/,
        `${name} is not inherited`,
      );
    }
  });
});
