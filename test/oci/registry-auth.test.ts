// Authentication against real registries: docker-registry with htpasswd (Basic challenge) and with
// token auth (Bearer challenge answered by our token server).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import {
  anonymousKeychain,
  dockerConfigKeychain,
  parseDockerConfigJson,
  staticKeychain,
  type Keychain,
} from '../../src/oci/auth.ts';
import { TokenCache } from '../../src/oci/authenticator.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import { parseReference, type RepositoryName } from '../../src/oci/reference.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { pushTestImage } from '../support/images.ts';

const isCode = (code: string) => (e: unknown) => e instanceof SigwardError && e.code === code;

/** No secret may appear anywhere in an error: message, details or causes. */
function assertNoSecret(error: unknown, secrets: readonly string[]): void {
  let current: unknown = error;
  while (current instanceof Error) {
    const text = `${current.message} ${JSON.stringify((current as SigwardError).details ?? {})}`;
    for (const secret of secrets) assert.ok(!text.includes(secret), `error leaks a secret: ${text}`);
    current = current.cause;
  }
}

function dockerConfig(registry: string, entry: Record<string, string>): Keychain {
  return dockerConfigKeychain([parseDockerConfigJson(JSON.stringify({ auths: { [registry]: entry } }))]);
}

describe('htpasswd (Basic challenge)', () => {
  let registry: DockerRegistry;
  let repo: RepositoryName;
  before(async () => {
    registry = await startDockerRegistry({ auth: { kind: 'htpasswd', users: { alice: 'alice-secret-pw' } } });
    repo = { registry: registry.host, repository: 'team/app' };
  });
  afterEach((t) => registry.noteResult(t));
  after(() => registry?.stop());

  test('pushes and pulls with basic credentials from a docker config', async () => {
    const auth = Buffer.from('alice:alice-secret-pw').toString('base64');
    const client = new RegistryClient({ keychain: dockerConfig(registry.host, { auth }) });
    try {
      const image = await pushTestImage(client, repo, { tag: 'v1' });
      const fetched = await client.getManifest(parseReference(`${registry.host}/team/app:v1`));
      assert.equal(fetched.digest, image.digest);
    } finally {
      await client.close();
    }
  });

  test('anonymous: REGISTRY_UNAUTHORIZED, never "not found"', async () => {
    const client = new RegistryClient();
    try {
      await assert.rejects(
        client.getManifest(parseReference(`${registry.host}/team/app:v1`)),
        isCode('REGISTRY_UNAUTHORIZED'),
      );
      await assert.rejects(
        client.findManifest(parseReference(`${registry.host}/team/app:nope`)),
        isCode('REGISTRY_UNAUTHORIZED'),
      );
    } finally {
      await client.close();
    }
  });

  test('a wrong password: REGISTRY_UNAUTHORIZED, and the error holds no secret', async () => {
    const client = new RegistryClient({
      keychain: staticKeychain({
        [registry.host]: { kind: 'basic', username: 'alice', password: 'wrong-pw-123' },
      }),
    });
    try {
      await assert.rejects(
        client.getManifest(parseReference(`${registry.host}/team/app:v1`)),
        (e: unknown) => {
          assertNoSecret(e, ['wrong-pw-123', Buffer.from('alice:wrong-pw-123').toString('base64')]);
          return isCode('REGISTRY_UNAUTHORIZED')(e);
        },
      );
    } finally {
      await client.close();
    }
  });

  test('credentials for another host are not used', async () => {
    const auth = Buffer.from('alice:alice-secret-pw').toString('base64');
    // Same IP, other port; and a key that merely contains the host.
    const [ip, port] = registry.host.split(':');
    const keychain = dockerConfigKeychain([
      parseDockerConfigJson(
        JSON.stringify({
          auths: { [`${ip}:${Number(port) + 1}`]: { auth }, [`${registry.host}.evil.io`]: { auth } },
        }),
      ),
    ]);
    const client = new RegistryClient({ keychain });
    try {
      await assert.rejects(
        client.getManifest(parseReference(`${registry.host}/team/app:v1`)),
        isCode('REGISTRY_UNAUTHORIZED'),
      );
    } finally {
      await client.close();
    }
  });
});

describe('token auth (Bearer challenge, our token server)', () => {
  let registry: DockerRegistry;
  let repo: RepositoryName;
  before(async () => {
    registry = await startDockerRegistry({
      auth: {
        kind: 'token',
        users: { bob: 'bob-secret-pw' },
        refreshTokens: { 'refresh-token-xyz': 'bob' },
        anonymousPull: true,
        expiresInSeconds: 300,
      },
    });
    repo = { registry: registry.host, repository: 'team/app' };
    const client = new RegistryClient({
      keychain: staticKeychain({
        [registry.host]: { kind: 'basic', username: 'bob', password: 'bob-secret-pw' },
      }),
    });
    try {
      await pushTestImage(client, repo, { tag: 'v1' });
    } finally {
      await client.close();
    }
  });
  afterEach((t) => registry.noteResult(t));
  after(() => registry?.stop());

  const tokenRequests = () => registry.tokenServer?.requests ?? [];

  test('anonymous pull gets a pull-scoped token; anonymous push is refused', async () => {
    const client = new RegistryClient();
    const before = tokenRequests().length;
    try {
      const fetched = await client.getManifest(parseReference(`${registry.host}/team/app:v1`));
      assert.equal(fetched.manifest.kind, 'manifest');
      const request = tokenRequests()[before];
      assert.deepEqual(request?.scopes, ['repository:team/app:pull']);
      assert.equal(request?.account, undefined);
      await assert.rejects(pushTestImage(client, repo), isCode('REGISTRY_UNAUTHORIZED'));
    } finally {
      await client.close();
    }
  });

  test('a token is reused per registry and scope until it expires', async () => {
    let now = 1_000_000;
    const cache = new TokenCache({ now: () => now });
    const client = new RegistryClient({ tokenCache: cache });
    const ref = parseReference(`${registry.host}/team/app:v1`);
    try {
      const start = tokenRequests().length;
      await client.getManifest(ref);
      await client.resolve(ref);
      await client.getManifest(ref);
      assert.equal(tokenRequests().length - start, 1, 'one token for three requests');
      // Another repository is another scope: a token of its own.
      await assert.rejects(
        client.getManifest(parseReference(`${registry.host}/other/app:v1`)),
        isCode('REGISTRY_NOT_FOUND'),
      );
      assert.equal(tokenRequests().length - start, 2);
      // Past the announced lifetime the token is fetched again.
      now += 301_000;
      await client.getManifest(ref);
      assert.equal(tokenRequests().length - start, 3);
    } finally {
      await client.close();
    }
  });

  test('concurrent requests for one scope share one token fetch', async () => {
    // The proxy holds all eight first requests and lets their 401s go together, so every request is
    // waiting for a token at the same moment.
    const proxy = await startFaultProxy({ upstream: registry.url });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    proxy.addFault({ path: /\/manifests\/v1$/, fault: { kind: 'hold', release: released }, times: 8 });
    const client = new RegistryClient({ keychain: anonymousKeychain });
    const ref = parseReference(`${proxy.host}/team/app:v1`);
    try {
      const arrivals = Array.from({ length: 8 }, () => proxy.nextRequest(/\/manifests\/v1$/));
      const start = tokenRequests().length;
      const pending = Promise.all(Array.from({ length: 8 }, () => client.resolve(ref)));
      await Promise.all(arrivals);
      release();
      const results = await pending;
      assert.equal(new Set(results.map((r) => r.digest)).size, 1);
      assert.equal(tokenRequests().length - start, 1);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  test('a registry token (docker config `registrytoken`) is sent as it is', async () => {
    const realm = new URL(registry.tokenServer!.realm);
    realm.searchParams.set('service', registry.tokenServer!.service);
    realm.searchParams.set('scope', 'repository:team/app:pull');
    const response = await fetch(realm, {
      headers: { authorization: `Basic ${Buffer.from('bob:bob-secret-pw').toString('base64')}` },
    });
    const { token } = (await response.json()) as { token: string };
    const client = new RegistryClient({ keychain: dockerConfig(registry.host, { registrytoken: token }) });
    try {
      const start = tokenRequests().length;
      const fetched = await client.getManifest(parseReference(`${registry.host}/team/app:v1`));
      assert.equal(fetched.manifest.kind, 'manifest');
      assert.equal(tokenRequests().length, start, 'no token request of our own');
    } finally {
      await client.close();
    }
  });

  test('the token cache keeps credentials apart: one cache, two keychains', async () => {
    const cache = new TokenCache();
    const anonymous = new RegistryClient({ tokenCache: cache });
    const bob = new RegistryClient({
      tokenCache: cache,
      keychain: staticKeychain({
        [registry.host]: { kind: 'basic', username: 'bob', password: 'bob-secret-pw' },
      }),
    });
    try {
      await pushTestImage(bob, repo, { tag: 'bob' }); // bob's push token is cached…
      await assert.rejects(pushTestImage(anonymous, repo), isCode('REGISTRY_UNAUTHORIZED')); // …and not lent out
    } finally {
      await anonymous.close();
      await bob.close();
    }
  });

  test('identity token (OAuth2 refresh token) from a docker config', async () => {
    const client = new RegistryClient({
      keychain: dockerConfig(registry.host, { identitytoken: 'refresh-token-xyz', username: '<token>' }),
    });
    const before = tokenRequests().length;
    try {
      await pushTestImage(client, repo, { tag: 'by-identity-token' });
      const requests = tokenRequests().slice(before);
      assert.ok(requests.length > 0);
      assert.ok(requests.every((r) => r.method === 'POST' && r.account === 'bob' && r.status === 200));
      assert.ok(requests.some((r) => r.scopes.includes('repository:team/app:pull,push')));
    } finally {
      await client.close();
    }
  });

  test('refused credentials: the next candidate is tried; all refused → REGISTRY_UNAUTHORIZED without secrets', async () => {
    const wrong = { kind: 'basic' as const, username: 'bob', password: 'not-bobs-pw-42' };
    const right = { kind: 'basic' as const, username: 'bob', password: 'bob-secret-pw' };
    const twoCandidates: Keychain = { credentialsFor: () => [wrong, right] };
    const client = new RegistryClient({ keychain: twoCandidates });
    try {
      await pushTestImage(client, repo, { tag: 'second-candidate' });
    } finally {
      await client.close();
    }
    const onlyWrong = new RegistryClient({ keychain: { credentialsFor: () => [wrong] } });
    try {
      await assert.rejects(
        onlyWrong.getManifest(parseReference(`${registry.host}/team/app:v1`)),
        (e: unknown) => {
          assertNoSecret(e, ['not-bobs-pw-42', Buffer.from('bob:not-bobs-pw-42').toString('base64')]);
          return isCode('REGISTRY_UNAUTHORIZED')(e);
        },
      );
    } finally {
      await onlyWrong.close();
    }
  });

  test('mount from another repository asks for pull on the source in the same token', async () => {
    const client = new RegistryClient({
      keychain: staticKeychain({
        [registry.host]: { kind: 'basic', username: 'bob', password: 'bob-secret-pw' },
      }),
    });
    try {
      const bytes = Buffer.from(`mount me ${Math.random()}`);
      await client.pushBlob(repo, bytes);
      const before = tokenRequests().length;
      const target = { registry: registry.host, repository: 'team/copy' };
      assert.equal((await client.pushBlob(target, bytes, { mountFrom: repo })).how, 'mounted');
      const scopes = tokenRequests()
        .slice(before)
        .map((r) => r.scopes);
      assert.ok(
        scopes.some(
          (s) => s.includes('repository:team/copy:pull,push') && s.includes('repository:team/app:pull'),
        ),
        JSON.stringify(scopes),
      );
    } finally {
      await client.close();
    }
  });
});
