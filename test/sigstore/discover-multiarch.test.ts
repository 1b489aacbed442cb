// Multi-arch images on a real registry: which digest must carry the signature. Images and a key are
// made here (a P-256 key signs cosign simple-signing payloads, key-only like `cosign sign --key
// --tlog-upload=false`), so each mode has a passing and a failing case.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient } from '../../src/oci/client.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import { verifyImage } from '../../src/sigstore/verify-image.ts';
import type { Authority, MultiArch } from '../../src/sigstore/verify-image.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { OCI_INDEX } from '../../src/oci/media-types.ts';
import { pushTestImage, pushTestIndex, type TestIndex } from '../support/images.ts';
import { pushLegacySignature, testSigner, type TestSigner } from './discover-fixtures.ts';
import { prodRoot } from './ext.ts';

let registry: DockerRegistry;
let client: RegistryClient;
let signer: TestSigner;
let counter = 0;
let authority: Authority;

before(async () => {
  registry = await startDockerRegistry();
  client = new RegistryClient();
  signer = testSigner();
  authority = { kind: 'key', name: 'test key', publicKey: signer.publicKey, requireTlog: false };
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await client?.close();
  await registry?.stop();
});

async function indexWith(signed: { index?: boolean; platforms?: number[] }): Promise<{
  repo: RepositoryName;
  index: TestIndex;
}> {
  const repo = { registry: registry.host, repository: `multi/r${++counter}` };
  const index = await pushTestIndex(client, repo);
  const sign = (digest: string) =>
    pushLegacySignature(client, repo, digest, [
      signer.layerFor(digest, `${repo.registry}/${repo.repository}`),
    ]);
  if (signed.index === true) await sign(index.digest);
  for (const i of signed.platforms ?? []) await sign(index.images[i]!.digest);
  return { repo, index };
}

const verify = (repository: RepositoryName, digest: string, multiArch?: MultiArch) =>
  verifyImage({
    client,
    image: { repository, digest },
    authorities: [authority],
    trust: prodRoot().material,
    ...(multiArch === undefined ? {} : { multiArch }),
  });

test('by default the admitted digest itself must be signed: a signed index does not cover a platform', async () => {
  const { repo, index } = await indexWith({ index: true });
  assert.equal((await verify(repo, index.digest)).status, 'verified');
  const child = await verify(repo, index.images[0]!.digest);
  assert.equal(child.status, 'unsigned');
  assert.equal(child.code, 'NO_SIGNATURES');
});

test('index-signature: a signature on an index that lists the platform manifest counts', async () => {
  const { repo, index } = await indexWith({ index: true });
  const child = index.images[1]!.digest;
  const verdict = await verify(repo, child, { mode: 'index-signature', index: index.digest });
  assert.equal(verdict.status, 'verified', verdict.message);
  assert.equal(verdict.digest, child);
  assert.equal(verdict.index?.digest, index.digest);
  assert.match(verdict.message, /through the index/);
});

test('index-signature: an index that does not list the image cannot vouch for it', async () => {
  const { repo, index } = await indexWith({ index: true });
  const other = await indexWith({});
  // `other`'s platform image lives in another repository; copy-free check: name it by digest here.
  const verdict = await verify(repo, other.index.images[0]!.digest, {
    mode: 'index-signature',
    index: index.digest,
  });
  assert.equal(verdict.status, 'rejected');
  assert.equal(verdict.code, 'INDEX_DOES_NOT_LIST_IMAGE');
});

test('index-signature: an unsigned index adds nothing', async () => {
  const { repo, index } = await indexWith({});
  const verdict = await verify(repo, index.images[0]!.digest, {
    mode: 'index-signature',
    index: index.digest,
  });
  assert.equal(verdict.status, 'unsigned');
  assert.equal(verdict.code, 'NO_SIGNATURES');
});

test('every-platform: every platform manifest of the index must be signed', async () => {
  const all = await indexWith({ platforms: [0, 1] });
  const verdict = await verify(all.repo, all.index.digest, { mode: 'every-platform' });
  assert.equal(verdict.status, 'verified', verdict.message);
  assert.deepEqual(
    verdict.platforms?.map((p) => [p.platform, p.status]),
    [
      ['linux/amd64', 'verified'],
      ['linux/arm64/v8', 'verified'],
    ],
  );

  const one = await indexWith({ index: true, platforms: [0] });
  const missing = await verify(one.repo, one.index.digest, { mode: 'every-platform' });
  assert.equal(missing.status, 'rejected');
  assert.equal(missing.code, 'PLATFORM_NOT_SIGNED');
  assert.match(missing.message, /^platform linux\/arm64\/v8 \(sha256:[0-9a-f]{64}\): no signatures found/);
});

test('every-platform: an index with no runnable platform is never verified, signed or not', async () => {
  const repo = { registry: registry.host, repository: `multi/r${++counter}` };
  const attestation = await pushTestImage(client, repo, {
    platform: { os: 'unknown', architecture: 'unknown' },
  });
  for (const manifests of [[], [{ ...attestation.descriptor, platform: attestation.platform }]]) {
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    const digest = (await client.pushManifest(repo, bytes, OCI_INDEX)).descriptor.digest;
    await pushLegacySignature(client, repo, digest, [
      signer.layerFor(digest, `${repo.registry}/${repo.repository}`),
    ]);
    for (const mode of ['every-platform', 'index-or-every-platform'] as const) {
      const verdict = await verify(repo, digest, { mode });
      if (mode === 'index-or-every-platform') {
        // Its own signature is what this mode accepts first.
        assert.equal(verdict.status, 'verified', verdict.message);
        continue;
      }
      assert.equal(verdict.status, 'rejected', `${mode} on ${JSON.stringify(manifests)}`);
      assert.equal(verdict.code, 'INDEX_WITHOUT_PLATFORMS');
      assert.match(
        verdict.message,
        manifests.length === 0
          ? /^the index lists no manifests: no runnable platform whose signature could be checked$/
          : /^the index lists only 1 manifest\(s\) of platform unknown\/unknown \(attestations\): no runnable/,
      );
    }
  }
  const unsignedEmpty = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }),
  );
  const other = { registry: registry.host, repository: `multi/r${++counter}` };
  const digest = (await client.pushManifest(other, unsignedEmpty, OCI_INDEX)).descriptor.digest;
  const neither = await verify(other, digest, { mode: 'index-or-every-platform' });
  assert.equal(neither.code, 'INDEX_WITHOUT_PLATFORMS');
  assert.match(
    neither.message,
    /^the index is not signed \(no signatures found .*\), and it lists no manifests/,
  );
});

test('index-signature: a tag naming an image manifest, not an index, cannot vouch', async () => {
  const { repo, index } = await indexWith({ platforms: [0] });
  const verdict = await verify(repo, index.images[1]!.digest, {
    mode: 'index-signature',
    index: index.images[0]!.digest,
  });
  assert.equal(verdict.code, 'INDEX_DOES_NOT_LIST_IMAGE');
  assert.match(
    verdict.message,
    /; and sha256:[0-9a-f]{64} is an image manifest, not an index, so its signatures cannot count$/,
  );
});

test('index-or-every-platform: the index signature, or else every platform manifest signed', async () => {
  const mode: MultiArch = { mode: 'index-or-every-platform' };
  const indexOnly = await indexWith({ index: true });
  const byIndex = await verify(indexOnly.repo, indexOnly.index.digest, mode);
  assert.equal(byIndex.status, 'verified', byIndex.message);
  assert.equal(byIndex.platforms, undefined, 'the index signature was enough');

  const platformsOnly = await indexWith({ platforms: [0, 1] });
  const byPlatforms = await verify(platformsOnly.repo, platformsOnly.index.digest, mode);
  assert.equal(byPlatforms.status, 'verified', byPlatforms.message);
  assert.equal(byPlatforms.platforms?.length, 2);

  const partial = await indexWith({ platforms: [1] });
  const neither = await verify(partial.repo, partial.index.digest, mode);
  assert.equal(neither.status, 'rejected');
  assert.equal(neither.code, 'PLATFORM_NOT_SIGNED');
  assert.match(
    neither.message,
    /^the index is not signed \(no signatures found .*\), and platform linux\/amd64 /,
  );
});

test('a signature by another key is rejected as an invalid signature', async () => {
  const { repo, index } = await indexWith({ index: true });
  const other = testSigner();
  const verdict = await verifyImage({
    client,
    image: { repository: repo, digest: index.digest },
    authorities: [{ kind: 'key', name: 'other', publicKey: other.publicKey, requireTlog: false }],
    trust: prodRoot().material,
  });
  assert.equal(verdict.status, 'rejected');
  assert.equal(verdict.code, 'SIGSTORE_SIGNATURE_INVALID');
});
