// SharedReads over a real registry (Debian's docker-registry behind a recording proxy): concurrent
// askers of one read get one request and the same answer; a blob read under a cap it does not fit in
// is never served from another asker's larger read (the cap error, as without sharing); reads through
// another client (other credentials) are not shared.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { RegistryClient } from '../../src/oci/client.ts';
import { referenceIn } from '../../src/oci/reference.ts';
import { SharedReads } from '../../src/sigstore/shared-reads.ts';
import { startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { pushTestImage } from '../support/images.ts';

let registry: DockerRegistry;
let proxy: FaultProxy;
let client: RegistryClient;
before(async () => {
  registry = await startDockerRegistry();
  proxy = await startFaultProxy({ upstream: registry.url });
  client = new RegistryClient();
});
after(async () => {
  await client?.close();
  await proxy?.close();
  await registry?.stop();
});

test('one request per distinct read, its answer to every asker; a smaller cap is never served a bigger blob', async () => {
  const repo = { registry: proxy.host, repository: 'shared/reads' };
  const image = await pushTestImage(client, repo, { tag: 'v1' });
  const bytes = randomBytes(2048);
  const blob = await client.pushBlob(repo, bytes);
  const descriptor = { mediaType: 'application/octet-stream', digest: blob.digest, size: blob.size };
  proxy.clearRequests();

  const shared = new SharedReads().over(client);
  const manifest = referenceIn(repo, image.digest);
  const [a, b] = await Promise.all([shared.findManifest(manifest), shared.findManifest(manifest)]);
  assert.equal(a, b);
  const [x, y] = await Promise.all([
    shared.getBlob(repo, descriptor, { maxBytes: 4096 }),
    shared.getBlob(repo, descriptor), // no cap of its own: the same read
  ]);
  assert.equal(x, y);
  assert.deepEqual(Buffer.from(x), bytes);
  await assert.rejects(shared.getBlob(repo, descriptor, { maxBytes: 1024 }), /over 1024/);
  assert.deepEqual(
    proxy.requests.map((r) => `${r.method} ${r.path.replace(/sha256:[0-9a-f]{64}/, 'D')}`),
    ['GET /v2/shared/reads/manifests/D', 'GET /v2/shared/reads/blobs/D'],
  );

  // Another client is another set of credentials: its reads are its own.
  const other = new RegistryClient();
  try {
    proxy.clearRequests();
    const reads = new SharedReads();
    await reads.over(client).findManifest(manifest);
    await reads.over(other).findManifest(manifest);
    assert.equal(proxy.requests.length, 2);
  } finally {
    await other.close();
  }
});
