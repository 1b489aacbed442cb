// The client against a real registry (Debian's docker-registry 2.8, no referrers API, no auth).
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import { digestOf, digestTag, referrersTag } from '../../src/oci/digest.ts';
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_EMPTY,
  OCI_EMPTY_DIGEST,
  OCI_INDEX,
  OCI_MANIFEST,
} from '../../src/oci/media-types.ts';
import { parseReference, referenceIn, type RepositoryName } from '../../src/oci/reference.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { pushTestImage, pushTestIndex } from '../support/images.ts';

let registry: DockerRegistry;
let client: RegistryClient;
let repo: RepositoryName;

before(async () => {
  registry = await startDockerRegistry();
  client = new RegistryClient();
  repo = { registry: registry.host, repository: 'sigward/app' };
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await client?.close();
  await registry?.stop();
});

const isCode = (code: string) => (e: unknown) => e instanceof SigwardError && e.code === code;

test('push an image, resolve its tag, fetch manifest and blobs with digests checked', async () => {
  const image = await pushTestImage(client, repo, { tag: 'v1', layers: 2 });
  const ref = parseReference(`${registry.host}/sigward/app:v1`);
  const resolved = await client.resolve(ref);
  assert.deepEqual(resolved, image.descriptor);

  const byTag = await client.getManifest(ref);
  assert.equal(byTag.digest, image.digest);
  assert.deepEqual(Buffer.from(byTag.bytes), Buffer.from(image.manifestBytes));
  assert.equal(byTag.manifest.kind, 'manifest');

  const byDigest = await client.getManifest(referenceIn(repo, image.digest));
  assert.equal(byDigest.digest, image.digest);
  if (byDigest.manifest.kind !== 'manifest') assert.fail('expected an image manifest');
  assert.deepEqual(byDigest.manifest.layers, image.layers);

  for (const layer of image.layers) {
    const bytes = await client.getBlob(repo, layer);
    assert.equal(digestOf(bytes), layer.digest);
  }
  assert.equal(await client.blobExists(repo, image.config.digest), true);
  assert.equal(await client.blobExists(repo, digestOf(Buffer.from('never pushed'))), false);
});

test('a multi-arch index resolves to the index digest and lists its children', async () => {
  const index = await pushTestIndex(client, repo, { tag: 'multi' });
  const fetched = await client.getManifest(parseReference(`${registry.host}/sigward/app:multi`));
  assert.equal(fetched.digest, index.digest);
  if (fetched.manifest.kind !== 'index') assert.fail('expected an index');
  assert.deepEqual(
    fetched.manifest.manifests.map((m) => [m.digest, m.platform?.architecture]),
    index.images.map((i) => [i.digest, i.platform.architecture]),
  );
  assert.equal(
    (await client.resolve(parseReference(`${registry.host}/sigward/app:multi`))).mediaType,
    OCI_INDEX,
  );
});

test('a tag and a digest together: fetched by digest', async () => {
  const image = await pushTestImage(client, repo, { tag: 'both' });
  const other = await pushTestImage(client, repo, { tag: 'moved' });
  const ref = parseReference(`${registry.host}/sigward/app:moved@${image.digest}`);
  assert.equal((await client.getManifest(ref)).digest, image.digest);
  assert.notEqual(other.digest, image.digest);
});

test('absent tags: findManifest gives undefined, getManifest REGISTRY_NOT_FOUND, other repos too', async () => {
  const image = await pushTestImage(client, repo);
  const sigTag = referenceIn(repo, digestTag(image.digest, 'sig'));
  assert.equal(await client.findManifest(sigTag), undefined);
  await assert.rejects(client.getManifest(sigTag), isCode('REGISTRY_NOT_FOUND'));
  await assert.rejects(client.resolve(sigTag), isCode('REGISTRY_NOT_FOUND'));
  const missingRepo = parseReference(`${registry.host}/nobody/here:1`);
  await assert.rejects(client.getManifest(missingRepo), (e: unknown) => {
    const code = (e as SigwardError).details['registryCode'];
    return isCode('REGISTRY_NOT_FOUND')(e) && (code === 'NAME_UNKNOWN' || code === 'MANIFEST_UNKNOWN');
  });
  await assert.rejects(client.getBlob(repo, digestOf(Buffer.from('nope'))), isCode('REGISTRY_NOT_FOUND'));
});

test('pushing a blob twice reports it existed; mounting from another repository', async () => {
  const bytes = Buffer.from(`blob ${Math.random()}`);
  assert.equal((await client.pushBlob(repo, bytes)).how, 'uploaded');
  assert.equal((await client.pushBlob(repo, bytes)).how, 'existed');
  const other = { registry: registry.host, repository: 'sigward/other' };
  assert.equal((await client.pushBlob(other, bytes, { mountFrom: repo })).how, 'mounted');
  assert.equal(await client.blobExists(other, digestOf(bytes)), true);
});

function artifactFor(
  subject: { mediaType: string; digest: string; size: number },
  artifactType: string,
  payload: Buffer,
) {
  return {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: { mediaType: OCI_EMPTY, digest: OCI_EMPTY_DIGEST, size: 2 },
    layers: [{ mediaType: artifactType, digest: digestOf(payload), size: payload.length }],
    subject,
    annotations: { 'org.example.note': 'test' },
  };
}

test('referrers: no API here, so pushReferrer writes the fallback tag and listReferrers reads it', async () => {
  const image = await pushTestImage(client, repo);
  const empty = await client.listReferrers(repo, image.digest);
  assert.deepEqual(empty, { source: 'fallback-tag', descriptors: [] });

  await client.pushBlob(repo, Buffer.from('{}'));
  const pushed = [];
  for (const type of ['application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.example.sbom']) {
    const payload = Buffer.from(`payload for ${type} ${Math.random()}`);
    await client.pushBlob(repo, payload);
    const bytes = Buffer.from(JSON.stringify(artifactFor(image.descriptor, type, payload)));
    const result = await client.pushReferrer(repo, bytes, OCI_MANIFEST);
    assert.equal(result.fallbackTagUpdated, true);
    pushed.push(result.descriptor.digest);
  }
  const all = await client.listReferrers(repo, image.digest);
  assert.equal(all.source, 'fallback-tag');
  assert.deepEqual(
    all.descriptors.map((d) => d.digest),
    pushed,
  );
  assert.equal(all.descriptors[0]?.annotations?.['org.example.note'], 'test');

  const bundles = await client.listReferrers(repo, image.digest, {
    artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  });
  assert.deepEqual(
    bundles.descriptors.map((d) => d.digest),
    [pushed[0]],
  );
  // The tag is an ordinary index, readable by any client.
  const tagged = await client.getManifest(referenceIn(repo, referrersTag(image.digest)));
  assert.equal(tagged.manifest.kind, 'index');
  // Adding the same referrer again changes nothing.
  assert.equal(
    await client.addToReferrersTag(repo, image.digest, { ...all.descriptors[0]!, digest: pushed[0]! }),
    false,
  );
});

test('fallback index entries without artifactType are kept by the filter (cosign#4641)', async () => {
  const image = await pushTestImage(client, repo);
  const referrer = await pushTestImage(client, repo); // stands for a manifest of unknown type
  const entry = referrer.descriptor;
  assert.equal(await client.addToReferrersTag(repo, image.digest, entry), true);
  const listed = await client.listReferrers(repo, image.digest, {
    artifactType: 'application/vnd.example.x',
  });
  assert.deepEqual(listed.descriptors, [entry]);
});

test('a referrers tag holding a plain manifest is a protocol error, not "no referrers"', async () => {
  const image = await pushTestImage(client, repo);
  await pushTestImage(client, repo, { tag: referrersTag(image.digest) });
  await assert.rejects(client.listReferrers(repo, image.digest), isCode('REGISTRY_PROTOCOL'));
});

test('Docker schema 2 manifests and manifest lists', async () => {
  const list = await pushTestIndex(client, repo, { tag: 'docker-list', format: 'docker' });
  const ref = parseReference(`${registry.host}/sigward/app:docker-list`);
  const resolved = await client.resolve(ref);
  assert.deepEqual(resolved, {
    mediaType: DOCKER_MANIFEST_LIST,
    digest: list.digest,
    size: list.indexBytes.length,
  });
  const fetched = await client.getManifest(ref);
  assert.equal(fetched.manifest.kind, 'index');
  const child = await client.getManifest(referenceIn(repo, list.images[0]!.digest));
  assert.equal(child.mediaType, DOCKER_MANIFEST);
  assert.equal(child.manifest.kind, 'manifest');
});

test('a legacy signature tag that exists is found, with its digest checked', async () => {
  const image = await pushTestImage(client, repo);
  const sigTag = digestTag(image.digest, 'sig');
  const signature = await pushTestImage(client, repo, { tag: sigTag });
  const found = await client.findManifest(referenceIn(repo, sigTag));
  assert.equal(found?.digest, signature.digest);
});

test('fallback index entries typed as the empty media type are kept by the filter (kyverno#16664)', async () => {
  const image = await pushTestImage(client, repo);
  const unknown = await pushTestImage(client, repo);
  const other = await pushTestImage(client, repo);
  await client.addToReferrersTag(repo, image.digest, { ...unknown.descriptor, artifactType: OCI_EMPTY });
  await client.addToReferrersTag(repo, image.digest, {
    ...other.descriptor,
    artifactType: 'application/x-other',
  });
  const listed = await client.listReferrers(repo, image.digest, {
    artifactType: 'application/vnd.example.x',
  });
  assert.deepEqual(
    listed.descriptors.map((d) => d.digest),
    [unknown.digest],
  );
});

test('an IPv6 loopback registry ([::1]:port) over plain HTTP', async (t) => {
  let proxy;
  try {
    proxy = await startFaultProxy({ upstream: registry.url, listen: '::1' });
  } catch (error) {
    t.skip(`no IPv6 loopback here: ${String(error)}`);
    return;
  }
  try {
    const image = await pushTestImage(
      client,
      { registry: proxy.host, repository: 'sigward/ipv6' },
      { tag: 'v1' },
    );
    const ref = parseReference(`${proxy.host}/sigward/ipv6:v1`);
    assert.equal(ref.registry, proxy.host);
    assert.equal((await client.getManifest(ref)).digest, image.digest);
  } finally {
    await proxy.close();
  }
});

test('clients for other keychains share one transport; closing one leaves the others working', async () => {
  const first = new RegistryClient({ transport: client.transport });
  const image = await pushTestImage(first, repo, { tag: 'shared' });
  await first.close();
  const second = new RegistryClient({ transport: client.transport });
  try {
    assert.equal((await second.resolve(referenceIn(repo, 'shared'))).digest, image.digest);
  } finally {
    await second.close();
  }
});

test('fallbackTag: false answers api-missing without reading the fallback tag', async () => {
  const image = await pushTestImage(client, repo);
  const referrer = await pushTestImage(client, repo);
  await client.addToReferrersTag(repo, image.digest, referrer.descriptor);
  assert.deepEqual(await client.listReferrers(repo, image.digest, { fallbackTag: false }), {
    source: 'api-missing',
    descriptors: [],
  });
  assert.equal((await client.listReferrers(repo, image.digest)).descriptors.length, 1);
});
