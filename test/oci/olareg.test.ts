// Opt-in (SIGWARD_TEST_OLAREG=1): the referrers API path against olareg with the API on, and the
// fallback tag with it off (olareg then answers 405, not 404).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient } from '../../src/oci/client.ts';
import { digestOf, referrersTag } from '../../src/oci/digest.ts';
import { OCI_EMPTY, OCI_EMPTY_DIGEST, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import { referenceIn, type RepositoryName } from '../../src/oci/reference.ts';
import { pushTestImage } from '../support/images.ts';
import { olaregSkipReason, startOlareg, type Olareg } from '../support/olareg.ts';

const skip = olaregSkipReason();
const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';

async function pushArtifact(
  client: RegistryClient,
  repo: RepositoryName,
  subject: { mediaType: string; digest: string; size: number },
  artifactType: string,
) {
  const payload = Buffer.from(`${artifactType} ${Math.random()}`);
  await client.pushBlob(repo, payload);
  await client.pushBlob(repo, Buffer.from('{}'));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: { mediaType: OCI_EMPTY, digest: OCI_EMPTY_DIGEST, size: 2 },
    layers: [{ mediaType: artifactType, digest: digestOf(payload), size: payload.length }],
    subject,
  };
  return client.pushReferrer(repo, Buffer.from(JSON.stringify(manifest)), OCI_MANIFEST);
}

for (const referrersApi of [true, false]) {
  describe(`olareg, referrers API ${referrersApi ? 'on' : 'off'}`, { skip }, () => {
    let registry: Olareg;
    let client: RegistryClient;
    let repo: RepositoryName;
    before(async () => {
      registry = await startOlareg({ referrersApi });
      client = new RegistryClient();
      repo = { registry: registry.host, repository: 'sigward/app' };
    });
    after(async () => {
      await client?.close();
      await registry?.stop();
    });

    test('push referrers, list them with and without an artifactType filter', async () => {
      const image = await pushTestImage(client, repo, { tag: 'v1' });
      assert.deepEqual((await client.listReferrers(repo, image.digest)).descriptors, []);
      const bundle = await pushArtifact(client, repo, image.descriptor, bundleType);
      const sbom = await pushArtifact(client, repo, image.descriptor, 'application/vnd.example.sbom');
      assert.equal(bundle.fallbackTagUpdated, !referrersApi);
      assert.equal(sbom.fallbackTagUpdated, !referrersApi);

      const all = await client.listReferrers(repo, image.digest);
      assert.equal(all.source, referrersApi ? 'referrers-api' : 'fallback-tag');
      assert.deepEqual(
        all.descriptors.map((d) => d.digest).sort(),
        [bundle.descriptor.digest, sbom.descriptor.digest].sort(),
      );
      const bundles = await client.listReferrers(repo, image.digest, { artifactType: bundleType });
      assert.deepEqual(
        bundles.descriptors.map((d) => [d.digest, d.artifactType]),
        [[bundle.descriptor.digest, bundleType]],
      );

      const tag = await client.findManifest(referenceIn(repo, referrersTag(image.digest)));
      assert.equal(tag !== undefined, !referrersApi, 'the fallback tag exists only without the API');
    });
  });
}
