// Redirects and other hosts: credentials go to the registry's own origin only, plain HTTP only to
// loopback or configured insecure registries. A docker-registry with htpasswd auth sits behind the fault
// proxy; a second proxy plays the CDN (or upload host) on another origin.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import { staticKeychain } from '../../src/oci/auth.ts';
import { RegistryClient, type RegistryClientOptions } from '../../src/oci/client.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { parseReference, type RepositoryName } from '../../src/oci/reference.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { pushTestImage, type TestImage } from '../support/images.ts';

let registry: DockerRegistry;
let proxy: FaultProxy;
let cdn: FaultProxy;
let image: TestImage;
let repo: RepositoryName;
const password = 'carol-secret-pw';

before(async () => {
  registry = await startDockerRegistry({ auth: { kind: 'htpasswd', users: { carol: password } } });
  proxy = await startFaultProxy({ upstream: registry.url });
  cdn = await startFaultProxy(); // another origin, nothing behind it
  repo = { registry: proxy.host, repository: 'redirect/app' };
  const client = clientFor(proxy.host);
  try {
    image = await pushTestImage(client, repo, { tag: 'v1', layerBytes: 1024 });
  } finally {
    await client.close();
  }
});
afterEach((t) => {
  registry.noteResult(t);
  proxy.clearFaults();
  cdn.clearFaults();
});
after(async () => {
  await proxy?.close();
  await cdn?.close();
  await registry?.stop();
});

const isCode = (code: string) => (e: unknown) => e instanceof SigwardError && e.code === code;

function clientFor(host: string, options: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClient({
    keychain: staticKeychain({ [host]: { kind: 'basic', username: 'carol', password } }),
    ...options,
  });
}

async function using<T>(client: RegistryClient, body: (c: RegistryClient) => Promise<T>): Promise<T> {
  try {
    return await body(client);
  } finally {
    await client.close();
  }
}

test('a blob redirect to another host is followed without the Authorization header', async () => {
  const layer = image.layers[0]!;
  const direct = clientFor(registry.host);
  const bytes = await using(direct, (c) =>
    c.getBlob({ registry: registry.host, repository: repo.repository }, layer),
  );
  cdn.addFault({ path: /^\/cdn\//, fault: { kind: 'status', status: 200, body: bytes } });
  proxy.addFault({
    path: /\/blobs\/sha256:/,
    method: 'GET',
    fault: { kind: 'redirect', location: `${cdn.url}/cdn/${layer.digest}?sig=abc` },
  });

  const fetched = await using(clientFor(proxy.host), async (c) => {
    await c.resolve(parseReference(`${proxy.host}/redirect/app:v1`)); // answers the challenge once
    return c.getBlob(repo, layer);
  });
  assert.equal(digestOf(fetched), layer.digest);
  const atRegistry = proxy.requests.findLast((r) => r.path.includes(`/blobs/${layer.digest}`));
  const atCdn = cdn.requests.findLast((r) => r.path.startsWith('/cdn/'));
  assert.equal(atRegistry?.authorization, true, 'the registry itself gets the credentials');
  assert.equal(atCdn?.authorization, false, 'the other host must not');
});

test('a redirect on the same origin keeps the Authorization header', async () => {
  const layer = image.layers[0]!;
  // Once: the registry's own blob URL with a marker, served by the (auth-requiring) registry itself.
  proxy.addFault({
    path: /\/blobs\/sha256:[0-9a-f]+$/,
    method: 'GET',
    fault: { kind: 'redirect', location: (path) => `${path}?same-origin=1` },
    times: 1,
  });
  const fetched = await using(clientFor(proxy.host), async (c) => {
    await c.resolve(parseReference(`${proxy.host}/redirect/app:v1`)); // answers the challenge once
    return c.getBlob(repo, layer);
  });
  assert.equal(digestOf(fetched), layer.digest);
  const followed = proxy.requests.findLast((r) => r.path.endsWith('?same-origin=1'));
  assert.equal(followed?.authorization, true);
});

test('a redirect to plain HTTP on a non-loopback host is refused before connecting', async () => {
  proxy.addFault({
    path: /\/blobs\//,
    method: 'GET',
    fault: { kind: 'redirect', location: 'http://registry.example.invalid/blob' },
  });
  await using(clientFor(proxy.host), (c) =>
    assert.rejects(c.getBlob(repo, image.layers[0]!), isCode('REGISTRY_INSECURE')),
  );
});

test('a Bearer realm on plain HTTP off loopback is refused: credentials never go there', async () => {
  proxy.addFault({
    path: /\/manifests\//,
    fault: {
      kind: 'status',
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="http://auth.example.invalid/token",service="x"' },
    },
  });
  await using(clientFor(proxy.host), (c) =>
    assert.rejects(
      c.getManifest(parseReference(`${proxy.host}/redirect/app:v1`)),
      isCode('REGISTRY_INSECURE'),
    ),
  );
});

test('a redirect to a non-HTTP scheme is refused', async () => {
  proxy.addFault({
    path: /\/blobs\//,
    method: 'GET',
    fault: { kind: 'redirect', location: 'file:///etc/passwd' },
  });
  await using(clientFor(proxy.host), (c) =>
    assert.rejects(c.getBlob(repo, image.layers[0]!), isCode('REGISTRY_PROTOCOL')),
  );
});

test('redirect loops end with REGISTRY_PROTOCOL', async () => {
  const rule = proxy.addFault({
    path: /\/blobs\//,
    method: 'GET',
    fault: { kind: 'redirect', location: (path) => path },
  });
  await using(clientFor(proxy.host, { maxRedirects: 3 }), (c) =>
    assert.rejects(c.getBlob(repo, image.layers[0]!), isCode('REGISTRY_PROTOCOL')),
  );
  assert.equal(rule.hits, 4);
});

test('an upload Location on another host gets the blob but not the credentials', async () => {
  const bytes = Buffer.from(`upload elsewhere ${Math.random()}`);
  cdn.addFault({ path: /^\/upload\//, method: 'PUT', fault: { kind: 'status', status: 201 } });
  const pushed = await using(clientFor(proxy.host), async (c) => {
    await c.pushBlob(repo, Buffer.from(`warm-up ${Math.random()}`)); // answers the push challenge once
    proxy.addFault({
      path: /\/blobs\/uploads\/$/,
      method: 'POST',
      fault: { kind: 'status', status: 202, headers: { location: `${cdn.url}/upload/123?_state=x` } },
    });
    return c.pushBlob(repo, bytes);
  });
  assert.equal(pushed.how, 'uploaded');
  const post = proxy.requests.findLast((r) => r.method === 'POST');
  assert.equal(post?.authorization, true, 'the registry itself gets the credentials');
  const put = cdn.requests.findLast((r) => r.method === 'PUT');
  assert.ok(put?.path.includes(`digest=${encodeURIComponent(digestOf(bytes))}`), put?.path);
  assert.ok(put?.path.includes('_state=x'));
  assert.equal(put?.authorization, false, 'the other host must not');
});

test('plain HTTP to loopback can be turned off: then https is used', async () => {
  // Without TLS on the proxy, https fails: proof that plain HTTP was not used.
  await using(clientFor(proxy.host, { plainHttpLoopback: false, connectTimeoutMs: 2_000 }), (c) =>
    assert.rejects(c.getManifest(parseReference(`${proxy.host}/redirect/app:v1`)), (e: unknown) =>
      ['REGISTRY_TLS', 'REGISTRY_UNAVAILABLE'].includes((e as SigwardError).code),
    ),
  );
});

describe('a registry named off loopback never steers sigward onto loopback', () => {
  // The registry is named as in production (registry.example) and reached at its test endpoint (the
  // proxy on loopback, --registry-endpoint): its own origin is fine, any other loopback port is not.
  const named = 'registry.example';
  const namedRepo = (): RepositoryName => ({ registry: named, repository: repo.repository });
  const namedClient = (): RegistryClient =>
    new RegistryClient({
      keychain: staticKeychain({ [named]: { kind: 'basic', username: 'carol', password } }),
      registryEndpoints: new Map([[named, proxy.host]]),
    });

  test('a redirect to another loopback port is refused before connecting', async () => {
    const before = cdn.requests.length;
    proxy.addFault({
      path: /\/blobs\//,
      method: 'GET',
      fault: { kind: 'redirect', location: `${cdn.url}/metrics` },
    });
    await using(namedClient(), (c) =>
      assert.rejects(c.getBlob(namedRepo(), image.layers[0]!), (e: unknown) => {
        assert.ok(isCode('REGISTRY_PROTOCOL')(e), String(e));
        assert.match(
          (e as Error).message,
          /redirected to 127\.0\.0\.1:\d+, a loopback address: refused, .*serve the content from the registry's own origin/,
        );
        return true;
      }),
    );
    assert.equal(cdn.requests.length, before, 'nothing reached the other loopback port');
  });

  test('a redirect back to its own endpoint is followed', async () => {
    proxy.addFault({
      path: /\/blobs\/sha256:[0-9a-f]+$/,
      method: 'GET',
      fault: { kind: 'redirect', location: (path) => `${proxy.url}${path}?same-origin=1` },
      times: 1,
    });
    const layer = image.layers[0]!;
    const fetched = await using(namedClient(), (c) => c.getBlob(namedRepo(), layer));
    assert.equal(digestOf(fetched), layer.digest);
    assert.ok(proxy.requests.some((r) => r.path.endsWith('?same-origin=1')));
  });

  test('a next-page Link to another loopback port is refused before connecting', async () => {
    const before = cdn.requests.length;
    const subject = image.digest;
    proxy.addFault({
      path: /\/referrers\//,
      method: 'GET',
      fault: {
        kind: 'status',
        status: 200,
        headers: {
          'content-type': 'application/vnd.oci.image.index.v1+json',
          link: `<${cdn.url}/v2/${repo.repository}/referrers/${subject}?page=2>; rel="next"`,
        },
        body: Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.index.v1+json',
            manifests: [],
          }),
        ),
      },
    });
    await using(namedClient(), (c) =>
      assert.rejects(c.listReferrers(namedRepo(), subject), (e: unknown) => {
        assert.ok(isCode('REGISTRY_PROTOCOL')(e), String(e));
        assert.match(
          (e as Error).message,
          /registry\.example gave a URL on 127\.0\.0\.1:\d+, a loopback address: refused, .*serve the content from the registry's own origin/,
        );
        return true;
      }),
    );
    assert.equal(cdn.requests.length, before, 'nothing reached the other loopback port');
  });
});
