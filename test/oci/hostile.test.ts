// The client against a hostile registry: a real docker-registry behind the fault proxy. Each check of
// the client has a case here that fails if the check is removed.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import events from 'node:events';
import net from 'node:net';
import { SigwardError } from '../../src/errors.ts';
import { RegistryClient, type RegistryClientOptions } from '../../src/oci/client.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { OCI_INDEX } from '../../src/oci/media-types.ts';
import { MAX_LISTED_REFERRERS } from '../../src/oci/referrers.ts';
import { parseReference, referenceIn, type RepositoryName } from '../../src/oci/reference.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { pushTestImage, type TestImage } from '../support/images.ts';

let registry: DockerRegistry;
let proxy: FaultProxy;
let direct: RegistryClient;
let image: TestImage;
const repoPath = 'hostile/app';
let repo: RepositoryName; // through the proxy

before(async () => {
  registry = await startDockerRegistry();
  proxy = await startFaultProxy({ upstream: registry.url });
  direct = new RegistryClient();
  image = await pushTestImage(
    direct,
    { registry: registry.host, repository: repoPath },
    { tag: 'v1', layerBytes: 4096 },
  );
  repo = { registry: proxy.host, repository: repoPath };
});
afterEach((t) => {
  registry.noteResult(t);
  proxy.clearFaults();
});
after(async () => {
  await direct?.close();
  await proxy?.close();
  await registry?.stop();
});

const isCode = (code: string) => (e: unknown) => e instanceof SigwardError && e.code === code;
const byTag = () => parseReference(`${proxy.host}/${repoPath}:v1`);
const byDigest = () => referenceIn(repo, image.digest);

/** A client whose waits are recorded instead of slept. */
function clientWith(options: RegistryClientOptions = {}): { client: RegistryClient; waits: number[] } {
  const waits: number[] = [];
  const client = new RegistryClient({
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  return { client, waits };
}

async function using<T>(client: RegistryClient, body: (c: RegistryClient) => Promise<T>): Promise<T> {
  try {
    return await body(client);
  } finally {
    await client.close();
  }
}

// --- size caps -------------------------------------------------------------------------------------

test('a manifest over the cap is refused while streaming (no Content-Length)', async () => {
  proxy.addFault({
    path: /\/manifests\//,
    fault: { kind: 'oversize', bytes: 300_000, contentLength: false },
  });
  const { client } = clientWith({ maxManifestBytes: 100_000 });
  await using(client, (c) =>
    assert.rejects(c.getManifest(byTag()), (e: Error) => {
      assert.ok(isCode('REGISTRY_TOO_LARGE')(e), String(e));
      // Which request, the cap, and what to look at.
      assert.match(
        e.message,
        /^GET 127\.0\.0\.1:\d+\/v2\/\S+\/manifests\/\S+: body exceeds 100000 bytes, sigward's cap for this answer; signature manifests and bundles are a few KiB: check what the registry serves at \/v2\/\S+\/manifests\/\S+$/,
      );
      return true;
    }),
  );
});

test('a declared Content-Length over the cap is refused before any body arrives', async () => {
  // The body never comes: only the early check can end this with TOO_LARGE rather than a timeout.
  proxy.addFault({ path: /\/manifests\//, fault: { kind: 'announce-size', bytes: 10 * 1024 ** 3 } });
  const { client } = clientWith({ requestTimeoutMs: 5_000 });
  await using(client, (c) => assert.rejects(c.getManifest(byTag()), isCode('REGISTRY_TOO_LARGE')));
});

test('the default manifest cap is 4 MiB', async () => {
  proxy.addFault({
    path: /\/manifests\//,
    fault: { kind: 'oversize', bytes: 4 * 1024 * 1024 + 1, contentLength: false },
  });
  const { client } = clientWith();
  await using(client, (c) => assert.rejects(c.getManifest(byTag()), isCode('REGISTRY_TOO_LARGE')));
});

test('a blob larger than its descriptor says is refused', async () => {
  const layer = image.layers[0]!;
  proxy.addFault({
    path: /\/blobs\//,
    fault: { kind: 'oversize', bytes: layer.size + 1, contentLength: false },
  });
  const { client } = clientWith();
  await using(client, (c) => assert.rejects(c.getBlob(repo, layer), isCode('REGISTRY_TOO_LARGE')));
});

test('a blob over the configured blob cap is refused, by digest alone too', async () => {
  proxy.addFault({ path: /\/blobs\//, fault: { kind: 'oversize', bytes: 50_000, contentLength: false } });
  const { client } = clientWith({ maxBlobBytes: 10_000 });
  await using(client, (c) =>
    assert.rejects(c.getBlob(repo, image.layers[0]!.digest), isCode('REGISTRY_TOO_LARGE')),
  );
  const { client: second } = clientWith({ maxBlobBytes: 10_000 });
  await using(second, (c) =>
    assert.rejects(c.getBlob(repo, { ...image.layers[0]!, size: 20_000 }), isCode('REGISTRY_TOO_LARGE')),
  );
});

// --- digests -----------------------------------------------------------------------------------------

test('an altered manifest fetched by digest: REGISTRY_DIGEST_MISMATCH', async () => {
  proxy.addFault({ path: /\/manifests\//, fault: { kind: 'alter-body' } });
  const { client } = clientWith();
  await using(client, (c) => assert.rejects(c.getManifest(byDigest()), isCode('REGISTRY_DIGEST_MISMATCH')));
});

test('an altered manifest fetched by tag is checked against Docker-Content-Digest', async () => {
  proxy.addFault({ path: /\/manifests\//, fault: { kind: 'alter-body' } });
  const { client } = clientWith();
  await using(client, (c) => assert.rejects(c.getManifest(byTag()), isCode('REGISTRY_DIGEST_MISMATCH')));
});

test('a Docker-Content-Digest that is not a digest is a protocol error', async () => {
  proxy.addFault({
    path: /\/manifests\//,
    fault: { kind: 'set-headers', headers: { 'docker-content-digest': 'sha256:xyz' } },
  });
  const { client } = clientWith();
  await using(client, (c) => assert.rejects(c.getManifest(byTag()), isCode('REGISTRY_PROTOCOL')));
});

test('an altered blob: REGISTRY_DIGEST_MISMATCH', async () => {
  proxy.addFault({ path: /\/blobs\//, fault: { kind: 'alter-body' } });
  const { client } = clientWith();
  await using(client, (c) =>
    assert.rejects(c.getBlob(repo, image.layers[0]!), isCode('REGISTRY_DIGEST_MISMATCH')),
  );
});

test('HEAD announcing another digest for a digest reference: REGISTRY_DIGEST_MISMATCH', async () => {
  const other = digestOf(Buffer.from('other'));
  proxy.addFault({
    method: 'HEAD',
    path: /\/manifests\//,
    fault: { kind: 'set-headers', headers: { 'docker-content-digest': other } },
  });
  const { client } = clientWith();
  await using(client, (c) => assert.rejects(c.resolve(byDigest()), isCode('REGISTRY_DIGEST_MISMATCH')));
});

test('resolve falls back to GET (and checks the bytes) when HEAD has no digest', async () => {
  proxy.addFault({
    method: 'HEAD',
    path: /\/manifests\//,
    fault: { kind: 'status', status: 200, headers: {} },
  });
  const { client } = clientWith();
  await using(client, async (c) => assert.deepEqual(await c.resolve(byTag()), image.descriptor));
  proxy.addFault({ method: 'GET', path: /\/manifests\//, fault: { kind: 'alter-body' } });
  const { client: second } = clientWith();
  await using(second, (c) => assert.rejects(c.resolve(byTag()), isCode('REGISTRY_DIGEST_MISMATCH')));
});

test('a manifest that is not a manifest: REGISTRY_PROTOCOL', async () => {
  proxy.addFault({
    path: /\/manifests\//,
    fault: { kind: 'status', status: 200, body: '{"schemaVersion":2,"layers":"no"}' },
  });
  const { client } = clientWith();
  await using(client, (c) => assert.rejects(c.getManifest(byTag()), isCode('REGISTRY_PROTOCOL')));
});

// --- 429 / 503 ---------------------------------------------------------------------------------------

test('429 with Retry-After is retried after the announced wait', async () => {
  const rule = proxy.addFault({
    path: /\/manifests\//,
    fault: { kind: 'status', status: 429, headers: { 'retry-after': '2' } },
    times: 2,
  });
  const { client, waits } = clientWith();
  const fetched = await using(client, (c) => c.getManifest(byTag()));
  assert.equal(fetched.digest, image.digest);
  assert.equal(rule.hits, 2);
  assert.deepEqual(waits, [2000, 2000]);
});

test('retries are bounded: maxRetries + 1 attempts, then REGISTRY_RATE_LIMITED', async () => {
  const rule = proxy.addFault({
    path: /\/manifests\//,
    fault: { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
  });
  const { client, waits } = clientWith({ maxRetries: 3 });
  await using(client, (c) =>
    assert.rejects(
      c.getManifest(byTag()),
      (e: unknown) => isCode('REGISTRY_RATE_LIMITED')(e) && (e as SigwardError).details['attempts'] === 4,
    ),
  );
  assert.equal(rule.hits, 4);
  assert.equal(waits.length, 3);
});

test('a Retry-After beyond the total wait budget is not waited for', async () => {
  const rule = proxy.addFault({
    path: /\/manifests\//,
    fault: { kind: 'status', status: 429, headers: { 'retry-after': '3600' } },
  });
  const { client, waits } = clientWith({ maxRetryWaitMs: 10_000 });
  await using(client, (c) =>
    assert.rejects(c.getManifest(byTag()), (e: unknown) => {
      const error = e as SigwardError;
      return isCode('REGISTRY_RATE_LIMITED')(e) && error.details['retryAfterMs'] === 3_600_000;
    }),
  );
  assert.equal(rule.hits, 1);
  assert.deepEqual(waits, []);
});

test('a wait that would outlast the request deadline is not started', async () => {
  const rule = proxy.addFault({
    path: /\/manifests\//,
    fault: { kind: 'status', status: 429, headers: { 'retry-after': '5' } },
  });
  const { client, waits } = clientWith({ requestTimeoutMs: 2_000, maxRetryWaitMs: 60_000 });
  await using(client, (c) => assert.rejects(c.getManifest(byTag()), isCode('REGISTRY_RATE_LIMITED')));
  assert.equal(rule.hits, 1);
  assert.deepEqual(waits, []);
});

test('the total wait is bounded across retries', async () => {
  proxy.addFault({
    path: /\/manifests\//,
    fault: { kind: 'status', status: 503, headers: { 'retry-after': '4' } },
  });
  const { client, waits } = clientWith({ maxRetries: 10, maxRetryWaitMs: 10_000 });
  await using(client, (c) => assert.rejects(c.getManifest(byTag()), isCode('REGISTRY_UNAVAILABLE')));
  assert.deepEqual(waits, [4000, 4000]);
});

test('503 without Retry-After backs off and recovers', async () => {
  proxy.addFault({ path: /\/blobs\//, fault: { kind: 'status', status: 503 }, times: 1 });
  const { client, waits } = clientWith();
  const bytes = await using(client, (c) => c.getBlob(repo, image.layers[0]!));
  assert.equal(digestOf(bytes), image.layers[0]!.digest);
  assert.equal(waits.length, 1);
});

test('other 5xx are not retried', async () => {
  const rule = proxy.addFault({ path: /\/manifests\//, fault: { kind: 'status', status: 500 } });
  const { client, waits } = clientWith();
  await using(client, (c) => assert.rejects(c.getManifest(byTag()), isCode('REGISTRY_UNAVAILABLE')));
  assert.equal(rule.hits, 1);
  assert.deepEqual(waits, []);
});

// --- timeouts, aborts, resets ------------------------------------------------------------------------

test('a registry that never answers: REGISTRY_TIMEOUT', async () => {
  proxy.addFault({ path: /\/manifests\//, fault: { kind: 'stall' } });
  const { client } = clientWith({ requestTimeoutMs: 300 });
  await using(client, (c) => assert.rejects(c.getManifest(byTag()), isCode('REGISTRY_TIMEOUT')));
});

test('a body that stops half-way: REGISTRY_TIMEOUT', async () => {
  proxy.addFault({ path: /\/blobs\//, fault: { kind: 'stall', when: 'mid-body' } });
  const { client } = clientWith({ requestTimeoutMs: 300 });
  await using(client, (c) =>
    assert.rejects(c.getBlob(repo, image.layers[0]!.digest), isCode('REGISTRY_TIMEOUT')),
  );
});

test('a body that keeps trickling past the deadline: REGISTRY_TIMEOUT (the deadline covers the whole request)', async () => {
  // One byte every 20 ms never leaves the socket idle for the 300 ms idle timeouts; 100 bytes take 2 s.
  proxy.addFault({ path: /\/blobs\//, fault: { kind: 'trickle', bytes: 100, everyMs: 20 } });
  const { client } = clientWith({ requestTimeoutMs: 300 });
  // Were it read to the end, its 100 bytes would fail the digest check instead (REGISTRY_DIGEST_MISMATCH).
  await using(client, (c) =>
    assert.rejects(c.getBlob(repo, image.layers[0]!.digest), isCode('REGISTRY_TIMEOUT')),
  );
});

test("a caller's signal aborted before the request: REGISTRY_ABORTED, nothing sent", async () => {
  const { client } = clientWith();
  const before = proxy.requests.length;
  await using(client, (c) =>
    assert.rejects(c.getManifest(byTag(), AbortSignal.abort()), isCode('REGISTRY_ABORTED')),
  );
  assert.equal(proxy.requests.length, before);
});

test("a request that ended leaves nothing on the caller's signal", async () => {
  const { client } = clientWith();
  const controller = new AbortController();
  const listeners = () => events.getEventListeners(controller.signal, 'abort').length;
  await using(client, async (c) => {
    await c.getManifest(byTag(), controller.signal);
    await c.getBlob(repo, image.layers[0]!, { signal: controller.signal });
  });
  assert.equal(listeners(), 0, 'every abort listener the requests added is removed when they end');
});

test("the caller's signal ends a request: REGISTRY_ABORTED", async () => {
  const path = 'hostile/abort-me';
  proxy.addFault({ path: /abort-me/, fault: { kind: 'stall' } });
  const { client } = clientWith();
  const controller = new AbortController();
  await using(client, async (c) => {
    const arrived = proxy.nextRequest(/abort-me/);
    const pending = c.getManifest(parseReference(`${proxy.host}/${path}:1`), controller.signal);
    await arrived;
    controller.abort();
    await assert.rejects(pending, isCode('REGISTRY_ABORTED'));
  });
});

test('a connection reset before the answer: REGISTRY_UNAVAILABLE', async () => {
  proxy.addFault({ path: /\/manifests\//, fault: { kind: 'reset' } });
  const { client } = clientWith();
  await using(client, (c) => assert.rejects(c.getManifest(byTag()), isCode('REGISTRY_UNAVAILABLE')));
});

test('a connection reset in the middle of a body: REGISTRY_UNAVAILABLE', async () => {
  proxy.addFault({ path: /\/blobs\//, fault: { kind: 'reset', when: 'mid-body' } });
  const { client } = clientWith();
  await using(client, (c) =>
    assert.rejects(c.getBlob(repo, image.layers[0]!.digest), isCode('REGISTRY_UNAVAILABLE')),
  );
});

test('a registry that is not there: REGISTRY_UNAVAILABLE', async () => {
  const gone = await startFaultProxy();
  const host = gone.host;
  await gone.close();
  const { client } = clientWith();
  await using(client, (c) =>
    assert.rejects(c.getManifest(parseReference(`${host}/a:1`)), isCode('REGISTRY_UNAVAILABLE')),
  );
});

// --- referrers API as other registries serve it ------------------------------------------------------

const sigType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const referrer = (n: number, artifactType: string) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digestOf(Buffer.from(`referrer ${n}`)),
  size: 100 + n,
  artifactType,
});
const indexOf = (manifests: unknown[]) =>
  JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
/** A referrers API answer played by the proxy: 200, an index body, more headers (filters, Link). */
const referrersPage = (body: string, headers: Readonly<Record<string, string>>) => ({
  path: /\/referrers\//,
  fault: { kind: 'status' as const, status: 200, headers: { 'content-type': OCI_INDEX, ...headers }, body },
});

test('referrers API without OCI-Filters-Applied: the client filters', async () => {
  proxy.addFault({
    path: /\/referrers\//,
    fault: {
      kind: 'status',
      status: 200,
      headers: { 'content-type': OCI_INDEX },
      body: indexOf([referrer(1, sigType), referrer(2, 'application/x-sbom')]),
    },
  });
  const { client } = clientWith();
  const listed = await using(client, (c) => c.listReferrers(repo, image.digest, { artifactType: sigType }));
  assert.equal(listed.source, 'referrers-api');
  assert.deepEqual(listed.descriptors, [referrer(1, sigType)]);
  const request = proxy.requests.findLast((r) => /\/referrers\//.test(r.path));
  assert.equal(
    request?.path,
    `/v2/${repoPath}/referrers/${image.digest}?artifactType=${encodeURIComponent(sigType)}`,
  );
});

test('referrers API that applied the filter is trusted; pages are followed', async () => {
  const page2 = `/v2/${repoPath}/referrers/${image.digest}?page=2`;
  proxy.addFault({
    path: /\/referrers\/.*page=2/,
    fault: {
      kind: 'status',
      status: 200,
      headers: { 'content-type': OCI_INDEX, 'oci-filters-applied': 'artifactType' },
      body: indexOf([referrer(4, sigType)]),
    },
  });
  proxy.addFault(
    referrersPage(indexOf([referrer(3, sigType)]), {
      'oci-filters-applied': 'artifactType',
      link: `<${page2}>; rel="next"`,
    }),
  );
  const { client } = clientWith();
  const listed = await using(client, (c) => c.listReferrers(repo, image.digest, { artifactType: sigType }));
  assert.deepEqual(
    listed.descriptors.map((d) => d.size),
    [103, 104],
  );
});

test('a referrers listing is bounded in entries: pages past the cap are not read', async () => {
  // Every page holds 3,000 referrers and links to the next one, without end.
  const perPage = 3000;
  const page = indexOf(Array.from({ length: perPage }, (_, n) => referrer(n, sigType)));
  proxy.addFault(
    referrersPage(page, { link: `</v2/${repoPath}/referrers/${image.digest}?page=next>; rel="next"` }),
  );
  const before = proxy.requests.length;
  const { client } = clientWith();
  await using(client, (c) =>
    assert.rejects(c.listReferrers(repo, image.digest), (e: unknown) => {
      assert.ok(isCode('REGISTRY_TOO_LARGE')(e), String(e));
      assert.match(
        (e as Error).message,
        /more than 10000 referrers of sha256:[0-9a-f]{64} \(\d+ in \d+ page\(s\)\); sigward reads no further: delete the referrers this image no longer needs \(`oras discover` lists them\) or sign and deploy a new digest$/,
      );
      return true;
    }),
  );
  const pages = proxy.requests.slice(before).filter((r) => /\/referrers\//.test(r.path)).length;
  assert.equal(pages, Math.ceil((MAX_LISTED_REFERRERS + 1) / perPage));
});

test('a referrers API failure is an error, never "no referrers"', async () => {
  proxy.addFault({ path: /\/referrers\//, fault: { kind: 'status', status: 500 } });
  const { client } = clientWith();
  await using(client, (c) =>
    assert.rejects(c.listReferrers(repo, image.digest), isCode('REGISTRY_UNAVAILABLE')),
  );
});

test('findManifest: only a 404 means "absent"; every other failure throws', async () => {
  const sigTag = parseReference(`${proxy.host}/${repoPath}:sha256-${'0'.repeat(64)}.sig`);
  const { client } = clientWith({ maxRetries: 0 });
  await using(client, async (c) => {
    assert.equal(await c.findManifest(sigTag), undefined);
    const cases: [number, string][] = [
      [403, 'REGISTRY_DENIED'],
      [429, 'REGISTRY_RATE_LIMITED'],
      [500, 'REGISTRY_UNAVAILABLE'],
      [400, 'REGISTRY_REJECTED'],
    ];
    for (const [status, code] of cases) {
      const rule = proxy.addFault({ path: /\.sig$/, fault: { kind: 'status', status }, times: 1 });
      await assert.rejects(c.findManifest(sigTag), isCode(code), `HTTP ${status}`);
      assert.equal(rule.hits, 1);
    }
  });
});

test('a held response arrives once released (the proxy paces, the test does not sleep)', async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  proxy.addFault({ path: /\/manifests\/v1$/, fault: { kind: 'hold', release: released }, times: 1 });
  const { client } = clientWith();
  await using(client, async (c) => {
    const arrived = proxy.nextRequest(/\/manifests\/v1$/);
    const pending = c.getManifest(byTag());
    await arrived;
    release();
    assert.equal((await pending).digest, image.digest);
  });
});

test('every exchange is reported for metrics: status or error code, host, never a query', async () => {
  proxy.addFault({
    path: /\/manifests\/v1$/,
    fault: { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
    times: 2,
  });
  const exchanges: { host: string; method: string; outcome: number | string }[] = [];
  const { client } = clientWith({
    onExchange: ({ host, method, outcome }) => exchanges.push({ host, method, outcome }),
  });
  await using(client, async (c) => {
    await c.getManifest(byTag());
    proxy.addFault({ path: /\/blobs\//, fault: { kind: 'reset' } });
    await assert.rejects(c.getBlob(repo, image.layers[0]!), isCode('REGISTRY_UNAVAILABLE'));
  });
  assert.deepEqual(exchanges, [
    { host: proxy.host, method: 'GET', outcome: 429 },
    { host: proxy.host, method: 'GET', outcome: 429 },
    { host: proxy.host, method: 'GET', outcome: 200 },
    { host: proxy.host, method: 'GET', outcome: 'REGISTRY_UNAVAILABLE' },
  ]);
});

test('connections per registry are capped: a second request waits for the first', async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  proxy.addFault({ path: /cap-first/, fault: { kind: 'hold', release: released } });
  proxy.addFault({ path: /cap-(second|probe)/, fault: { kind: 'status', status: 404 } });
  const { client } = clientWith({ maxConnectionsPerOrigin: 1 });
  const { client: other } = clientWith();
  await using(client, async (c) => {
    const firstArrived = proxy.nextRequest(/cap-first/);
    const first = c.findManifest(parseReference(`${proxy.host}/hostile/cap-first:1`));
    await firstArrived;
    const second = c.findManifest(parseReference(`${proxy.host}/hostile/cap-second:1`));
    // A request from another client arriving proves the proxy is serving; the second is still queued.
    const probeArrived = proxy.nextRequest(/cap-probe/);
    await using(other, (o) => o.findManifest(parseReference(`${proxy.host}/hostile/cap-probe:1`)));
    await probeArrived;
    assert.equal(proxy.requests.filter((r) => r.path.includes('cap-second')).length, 0);
    release();
    assert.equal(await first, undefined);
    assert.equal(await second, undefined);
  });
});

test('a request queued for a connection ends at once when its caller aborts, and is never sent', async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  proxy.addFault({ path: /queue-first/, fault: { kind: 'hold', release: released } });
  proxy.addFault({ path: /queue-(second|third)/, fault: { kind: 'status', status: 404 } });
  const { client } = clientWith({ maxConnectionsPerOrigin: 1 });
  const controller = new AbortController();
  await using(client, async (c) => {
    const firstArrived = proxy.nextRequest(/queue-first/);
    const first = c.findManifest(parseReference(`${proxy.host}/hostile/queue-first:1`));
    await firstArrived;
    const second = c.findManifest(parseReference(`${proxy.host}/hostile/queue-second:1`), controller.signal);
    controller.abort();
    // Rejected while the only connection is still held by the first request.
    await assert.rejects(second, isCode('REGISTRY_ABORTED'));
    release();
    assert.equal(await first, undefined);
    // The queue is served in order: once a later request is answered, the aborted one was dropped unsent.
    assert.equal(await c.findManifest(parseReference(`${proxy.host}/hostile/queue-third:1`)), undefined);
    assert.equal(proxy.requests.filter((r) => r.path.includes('queue-second')).length, 0);
  });
});

test('an error body is read only to its 64 KiB cap: a 404 whose body never ends is answered at once', async () => {
  // Announces 1 MiB, sends 128 KiB, then holds the connection: only the cap lets the answer through.
  proxy.addFault({
    path: /endless-404/,
    fault: {
      kind: 'status',
      status: 404,
      headers: { 'content-length': String(1 << 20) },
      body: Buffer.alloc(128 * 1024, 0x20),
    },
  });
  const { client } = clientWith({ requestTimeoutMs: 5_000 });
  await using(client, async (c) => {
    assert.equal(await c.findManifest(parseReference(`${proxy.host}/hostile/endless-404:1`)), undefined);
  });
});

test("a registry's error message is kept short and printable, and echoed credentials are redacted", async () => {
  const body = JSON.stringify({
    errors: [
      {
        code: 'DENIED',
        message: `denied for Basic ${Buffer.from('alice:pw-123456').toString('base64')} and Bearer eyJhbGciOi.x.y token=abcdefgh1234 \u0007${'x'.repeat(500)}`,
      },
    ],
  });
  proxy.addFault({ path: /\/manifests\//, fault: { kind: 'status', status: 403, body } });
  const { client } = clientWith();
  await using(client, (c) =>
    assert.rejects(c.getManifest(byTag()), (e: unknown) => {
      const message = (e as SigwardError).message;
      assert.ok(isCode('REGISTRY_DENIED')(e));
      assert.match(
        message,
        /DENIED: denied for Basic \[redacted\] and Bearer \[redacted\] token=\[redacted\]/,
      );
      assert.ok(!message.includes(Buffer.from('alice:pw-123456').toString('base64')));
      assert.ok(!message.includes('\u0007'));
      assert.ok(message.length < 400);
      return true;
    }),
  );
});

test('a TLS handshake that never completes ends at the connect timeout', async () => {
  // Accepts TCP and then says nothing: only the connect timeout (which covers the handshake) ends it.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const address = silent.address() as net.AddressInfo;
  const { client } = clientWith({
    plainHttpLoopback: false,
    connectTimeoutMs: 100,
    // Longer than the connect timeout, shorter than undici's own default (10 s): the cause tells which fired.
    requestTimeoutMs: 3_000,
  });
  try {
    await using(client, (c) =>
      assert.rejects(c.getManifest(parseReference(`127.0.0.1:${address.port}/a:1`)), (e: unknown) => {
        return (
          isCode('REGISTRY_TIMEOUT')(e) && (e as SigwardError).details['cause'] === 'UND_ERR_CONNECT_TIMEOUT'
        );
      }),
    );
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});
