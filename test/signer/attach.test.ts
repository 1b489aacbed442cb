// What the signer pushes, against a real registry without the referrers API (Debian's docker-registry):
// the cosign v3 bundle referrer and its fallback tag index, the legacy `.sig` manifest, idempotency,
// and that a refused push leaves nothing a verifier could find. (The bundles here are stand-ins: the
// layout does not depend on what the bundle says; real Fulcio/Rekor/TSA signing is in e2e/sign.e2e.ts.)
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import { referenceIn, type RepositoryName } from '../../src/oci/reference.ts';
import {
  ANNOTATION,
  BUNDLE_ARTIFACT_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  EMPTY_CONFIG,
  SIMPLE_SIGNING_MEDIA_TYPE,
  legacyTag,
  referrersFallbackTag,
} from '../../src/sigstore/layout.ts';
import { attachBundle, type SignedImage } from '../../src/signer/attach.ts';
import { attachLegacySignature } from '../../src/signer/attach-legacy.ts';
import { simpleSigningPayload } from '../../src/signer/payloads.ts';
import { withRetries } from '../../src/signer/retry.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { pushTestImage } from '../support/images.ts';

let registry: DockerRegistry;
let client: RegistryClient;

before(async () => {
  registry = await startDockerRegistry();
  client = new RegistryClient();
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await client?.close();
  await registry?.stop();
});

let counter = 0;
async function freshImage(host = registry.host): Promise<SignedImage> {
  const name: RepositoryName = { registry: host, repository: `signer/app${counter++}` };
  const image = await pushTestImage(
    client,
    { registry: registry.host, repository: name.repository },
    { tag: 'v1' },
  );
  return { name, descriptor: image.descriptor };
}

async function tagsOf(name: RepositoryName): Promise<string[]> {
  const response = await fetch(`${registry.url}/v2/${name.repository}/tags/list`);
  if (response.status === 404) return [];
  const body = (await response.json()) as { tags?: string[] | null };
  return (body.tags ?? []).slice().sort();
}

const bundleBytes = (n: number) =>
  Buffer.from(JSON.stringify({ mediaType: BUNDLE_ARTIFACT_TYPE, standIn: n }), 'utf8');
const created = new Date('2026-11-24T12:00:00.000Z');

test('bundle referrer: cosign v3 manifest by digest, then the fallback tag index lists it', async () => {
  const image = await freshImage();
  const bundle = bundleBytes(1);
  const attached = await attachBundle(client, image, bundle, {
    predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    created,
  });
  assert.equal(attached.viaFallbackTag, true);

  const manifest = await client.getManifest(referenceIn(image.name, attached.manifestDigest));
  const json = JSON.parse(Buffer.from(manifest.bytes).toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(json, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: BUNDLE_ARTIFACT_TYPE,
    config: { ...EMPTY_CONFIG, artifactType: BUNDLE_ARTIFACT_TYPE },
    layers: [{ mediaType: BUNDLE_ARTIFACT_TYPE, digest: digestOf(bundle), size: bundle.length }],
    subject: image.descriptor,
    annotations: {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE_TYPE,
      'org.opencontainers.image.created': '2026-11-24T12:00:00Z',
    },
  });
  assert.deepEqual(Buffer.from(await client.getBlob(image.name, EMPTY_CONFIG.digest)).toString(), '{}');
  assert.deepEqual(Buffer.from(await client.getBlob(image.name, digestOf(bundle))), bundle);

  const fallback = referrersFallbackTag(image.descriptor.digest);
  assert.deepEqual(await tagsOf(image.name), [fallback, 'v1'].sort());
  const index = await client.getManifest(referenceIn(image.name, fallback));
  assert.equal(index.mediaType, OCI_INDEX);
  if (index.manifest.kind !== 'index') assert.fail('the fallback tag holds an index');
  assert.deepEqual(
    index.manifest.manifests.map((d) => [d.digest, d.artifactType]),
    [[attached.manifestDigest, BUNDLE_ARTIFACT_TYPE]],
  );
  const listed = await client.listReferrers(image.name, image.descriptor.digest);
  assert.equal(listed.source, 'fallback-tag');
  assert.deepEqual(
    listed.descriptors.map((d) => d.digest),
    [attached.manifestDigest],
  );
});

test('the same signature pushed twice is one referrer; another signature is a second one', async () => {
  const image = await freshImage();
  const first = await attachBundle(client, image, bundleBytes(2), {
    predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    created,
  });
  const again = await attachBundle(client, image, bundleBytes(2), {
    predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    created,
  });
  assert.equal(again.manifestDigest, first.manifestDigest);
  const listed = await client.listReferrers(image.name, image.descriptor.digest);
  assert.equal(listed.descriptors.length, 1);

  const other = await attachBundle(client, image, bundleBytes(3), {
    predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    created,
  });
  assert.notEqual(other.manifestDigest, first.manifestDigest);
  const both = await client.listReferrers(image.name, image.descriptor.digest);
  assert.deepEqual(
    both.descriptors.map((d) => d.digest).sort(),
    [first.manifestDigest, other.manifestDigest].sort(),
  );
  assert.equal((await tagsOf(image.name)).length, 2, 'still one fallback tag next to v1');
});

const annotationsFor = (signature: string): Record<string, string> => ({
  [ANNOTATION.signature]: signature,
  [ANNOTATION.certificate]: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  [ANNOTATION.chain]: '',
  [ANNOTATION.rfc3161Timestamp]: JSON.stringify({ SignedRFC3161Timestamp: 'AAAA' }),
});

test('legacy .sig: one simple-signing layer per signature, an identical one is not added twice', async () => {
  const image = await freshImage();
  const payload = simpleSigningPayload(
    `${image.name.registry}/${image.name.repository}`,
    image.descriptor.digest,
  );
  const first = await attachLegacySignature(client, image, payload, annotationsFor('c2lnLTE='));
  assert.deepEqual([first.added, first.layers, first.tag], [true, 1, legacyTag(image.descriptor.digest)]);
  const same = await attachLegacySignature(client, image, payload, annotationsFor('c2lnLTE='));
  assert.deepEqual([same.added, same.layers, same.manifestDigest], [false, 1, first.manifestDigest]);
  const second = await attachLegacySignature(client, image, payload, annotationsFor('c2lnLTI='));
  assert.deepEqual([second.added, second.layers], [true, 2]);

  assert.deepEqual(await tagsOf(image.name), [legacyTag(image.descriptor.digest), 'v1'].sort());
  const fetched = await client.getManifest(referenceIn(image.name, first.tag));
  if (fetched.manifest.kind !== 'manifest') assert.fail('a .sig tag holds an image manifest');
  assert.equal(fetched.manifest.mediaType, OCI_MANIFEST);
  assert.equal(fetched.manifest.subject, undefined);
  assert.deepEqual(
    fetched.manifest.layers.map((l) => [l.mediaType, l.digest, l.annotations?.[ANNOTATION.signature]]),
    [
      [SIMPLE_SIGNING_MEDIA_TYPE, digestOf(payload), 'c2lnLTE='],
      [SIMPLE_SIGNING_MEDIA_TYPE, digestOf(payload), 'c2lnLTI='],
    ],
  );
  const config = JSON.parse(
    Buffer.from(await client.getBlob(image.name, fetched.manifest.config)).toString('utf8'),
  ) as { rootfs: { diff_ids: string[] } };
  assert.deepEqual(config.rootfs.diff_ids, [digestOf(payload), digestOf(payload)]);
  const stored = Buffer.from(await client.getBlob(image.name, digestOf(payload))).toString('utf8');
  assert.deepEqual(JSON.parse(stored), {
    critical: {
      identity: { 'docker-reference': `${image.name.registry}/${image.name.repository}` },
      image: { 'docker-manifest-digest': image.descriptor.digest },
      type: 'cosign container image signature',
    },
    optional: null,
  });
});

test('a registry that refuses the manifest: an error, and no tag or referrer a verifier could find', async () => {
  const proxy = await startFaultProxy({ upstream: registry.url });
  try {
    const image = await freshImage(proxy.host);
    proxy.addFault({ method: 'PUT', path: /\/manifests\//, fault: { kind: 'status', status: 403 } });
    await assert.rejects(
      attachBundle(client, image, bundleBytes(4), { predicateType: COSIGN_SIGN_PREDICATE_TYPE, created }),
      (e) => e instanceof SigwardError && e.code === 'REGISTRY_DENIED',
    );
    const payload = simpleSigningPayload('x/y', image.descriptor.digest);
    await assert.rejects(
      attachLegacySignature(client, image, payload, annotationsFor('c2ln')),
      (e) => e instanceof SigwardError && e.code === 'REGISTRY_DENIED',
    );
    assert.deepEqual(await tagsOf(image.name), ['v1']);
    const listed = await client.listReferrers(
      { registry: registry.host, repository: image.name.repository },
      image.descriptor.digest,
    );
    assert.deepEqual(listed.descriptors, []);
  } finally {
    await proxy.close();
  }
});

test('transient registry failures are retried; the signature lands once', async () => {
  const proxy = await startFaultProxy({ upstream: registry.url });
  try {
    const image = await freshImage(proxy.host);
    // Three 503s on the manifest PUT: more than the transport's own retries, fewer than ours on top.
    proxy.addFault({
      method: 'PUT',
      path: /\/manifests\/sha256:/,
      fault: { kind: 'status', status: 503 },
      times: 3,
    });
    const retried: string[] = [];
    const attached = await withRetries(
      () =>
        attachBundle(client, image, bundleBytes(5), { predicateType: COSIGN_SIGN_PREDICATE_TYPE, created }),
      { baseDelayMs: 10, onRetry: (e) => retried.push(e.code) },
    );
    assert.deepEqual(retried, ['REGISTRY_UNAVAILABLE']);
    const listed = await client.listReferrers(
      { registry: registry.host, repository: image.name.repository },
      image.descriptor.digest,
    );
    assert.deepEqual(
      listed.descriptors.map((d) => d.digest),
      [attached.manifestDigest],
    );
  } finally {
    await proxy.close();
  }
});

test('push access is asked without writing anything: a refusing registry says so before any signing', async () => {
  const proxy = await startFaultProxy({ upstream: registry.url });
  try {
    const image = await freshImage(proxy.host);
    await client.checkPushAccess(image.name);
    assert.deepEqual(await tagsOf(image.name), ['v1'], 'an access check writes no tag');
    proxy.addFault({ method: 'POST', path: /\/blobs\/uploads\/$/, fault: { kind: 'status', status: 403 } });
    await assert.rejects(
      client.checkPushAccess(image.name),
      (e) => e instanceof SigwardError && e.code === 'REGISTRY_DENIED',
    );
  } finally {
    await proxy.close();
  }
});
