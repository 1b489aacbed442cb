// The world's registries with the real clients: olareg with the referrers API on and off, Debian's
// docker-registry 2.8 (the older registry) and CNCF distribution v3.1 (`registry:3`), neither of which
// has a referrers API. What is asserted here is what sigward's discovery relies on: digests agree
// between client and registry, manifests with `subject` and `artifactType` survive verbatim, and the
// referrers API is served, or answers 404 (docker-registry, distribution v3) or 405 (olareg with it
// off, which go-containerregistry clients do not take for "absent").
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { pushArtifactCrane, pushArtifactHttp, sigstoreBundleType } from './world/artifacts.ts';
import { createClients, type Clients } from './world/clients.ts';
import { pushImage, pushIndex, type ImageTools } from './world/images.ts';
import {
  descriptorOf,
  fallbackTag,
  getManifest,
  headDigest,
  mediaTypes,
  putManifest,
  referrers,
  tags,
} from './world/oci-http.ts';
import {
  probeReferrers,
  startDistributionV3,
  startDockerRegistry,
  startOlareg,
  type Registry,
} from './world/registry.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import { answers } from './world/probe.ts';
import { listenerCommand, ownsListener } from './world/listener.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

interface Variant {
  name: string;
  start: (runDir: RunDir) => Promise<Registry>;
  referrersApi: boolean;
  /** What `GET /v2/<repo>/referrers/<digest>` answers. */
  referrersStatus: number;
}

const variants: Variant[] = [
  {
    name: 'olareg, referrers API on',
    start: (d) => startOlareg(d, { referrers: true }),
    referrersApi: true,
    referrersStatus: 200,
  },
  {
    name: 'olareg, referrers API off',
    start: (d) => startOlareg(d, { referrers: false }),
    referrersApi: false,
    // Not the 404 of the distribution spec: 405 with an UNSUPPORTED error body.
    referrersStatus: 405,
  },
  {
    name: 'docker-registry 2.8',
    start: (d) => startDockerRegistry(d),
    referrersApi: false,
    referrersStatus: 404,
  },
  {
    // v3.1 still has no referrers route (distribution/distribution has no such handler): 404, like 2.8.
    name: 'distribution v3',
    start: (d) => startDistributionV3(d),
    referrersApi: false,
    referrersStatus: 404,
  },
];

const annotations = {
  'dev.sigstore.bundle.content': 'message-signature',
  'org.opencontainers.image.created': '2026-01-01T00:00:00Z',
};

describe('registries of the world', () => {
  let runDir: RunDir;
  let clients: Clients;
  let images: ImageTools;
  let failed = false;
  const check = stepsNotingFailure(() => (failed = true));

  before(() => {
    runDir = createRunDir('sigward-registry-');
    clients = createClients(runDir);
    images = { crane: clients.crane, workDir: runDir.sub('images') };
  });

  after(() => {
    if (failed) console.error(`registry e2e: logs kept in ${runDir.keepLogs('registry')}`);
    runDir.remove();
  });

  for (const variant of variants) {
    describe(variant.name, () => {
      let registry: Registry;

      before(async () => {
        try {
          registry = await variant.start(runDir);
        } catch (error) {
          failed = true;
          throw error;
        }
      });
      after(async () => {
        await registry?.stop();
      });

      check('listens on loopback and reports its referrers mode', async () => {
        assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
        assert.equal(registry.url, `http://${registry.host}`);
        assert.equal(registry.referrersApi, variant.referrersApi);
        assert.equal(registry.referrersStatus, variant.referrersStatus);
        assert.equal(
          await probeReferrers(registry.url, { repository: 'probe/other' }),
          variant.referrersStatus,
        );
        const answer = await referrers(registry.url, 'probe/none', `sha256:${'1'.repeat(64)}`);
        assert.equal(answer.status, variant.referrersStatus);
        if (variant.referrersApi) {
          assert.match(answer.contentType, /^application\/vnd\.oci\.image\.index\.v1\+json/);
          assert.equal(answer.index?.schemaVersion, 2);
          assert.equal(answer.index?.mediaType, mediaTypes.ociIndex);
          assert.deepEqual(answer.index?.manifests, []);
        }
      });

      check('crane pushes a single-platform image and both sides agree on its digest', async () => {
        const image = await pushImage(images, registry.host, 'e2e/app', 'v1');
        assert.match(image.digest, /^sha256:[0-9a-f]{64}$/);
        assert.equal(image.ref, `${registry.host}/e2e/app:v1`);
        assert.equal(image.byDigest, `${registry.host}/e2e/app@${image.digest}`);
        const fetched = await getManifest(registry.url, 'e2e/app', 'v1');
        assert.ok(fetched);
        assert.equal(fetched.headerDigest, image.digest);
        assert.equal(fetched.computedDigest, image.digest);
        assert.equal(await headDigest(registry.url, 'e2e/app', image.digest), image.digest);
        assert.equal(fetched.json.mediaType, mediaTypes.ociManifest);
        assert.equal(fetched.json.layers?.length, 1);

        const again = await pushImage(images, registry.host, 'e2e/app', 'v2');
        assert.notEqual(again.digest, image.digest, 'every synthesised image is unique');
        const docker = await pushImage(images, registry.host, 'e2e/app', 'docker', { format: 'docker' });
        const dockerManifest = await getManifest(registry.url, 'e2e/app', 'docker');
        assert.equal(dockerManifest?.json.mediaType, mediaTypes.dockerManifest);
        assert.equal(dockerManifest?.headerDigest, docker.digest);
      });

      check(
        'crane pushes a 2-platform index whose platform images are listed with their digests',
        async () => {
          const index = await pushIndex(images, registry.host, 'e2e/multi', 'v1');
          const fetched = await getManifest(registry.url, 'e2e/multi', 'v1');
          assert.ok(fetched);
          assert.equal(fetched.headerDigest, index.digest);
          assert.equal(fetched.computedDigest, index.digest);
          assert.equal(fetched.json.mediaType, mediaTypes.ociIndex);
          const listed = (fetched.json.manifests ?? []).map((m) => ({
            platform: `${m.platform?.os}/${m.platform?.architecture}`,
            digest: m.digest,
          }));
          assert.deepEqual(listed, index.platforms);
          for (const platform of index.platforms ?? []) {
            const child = await getManifest(registry.url, 'e2e/multi', platform.digest);
            assert.equal(child?.computedDigest, platform.digest);
          }
          const arm = await clients.crane(['digest', '--platform', 'linux/arm64', index.ref]);
          assert.equal(arm.stdout.trim(), index.platforms?.[1]?.digest);

          // The Docker flavour: a manifest list of Docker v2 schema 2 images.
          const list = await pushIndex(images, registry.host, 'e2e/multi', 'docker', undefined, {
            format: 'docker',
          });
          const fetchedList = await getManifest(registry.url, 'e2e/multi', 'docker');
          assert.equal(fetchedList?.json.mediaType, mediaTypes.dockerList);
          assert.equal(fetchedList?.headerDigest, list.digest);
          assert.deepEqual(
            fetchedList?.json.manifests?.map((m) => m.mediaType),
            [mediaTypes.dockerManifest, mediaTypes.dockerManifest],
          );
        },
      );

      check('an artifact manifest with subject and artifactType is stored verbatim', async () => {
        const image = await pushImage(images, registry.host, 'e2e/signed', 'v1');
        const subject = await descriptorOf(registry.url, 'e2e/signed', image.digest);
        const artifact = await pushArtifactHttp(registry.url, 'e2e/signed', subject, { annotations });
        assert.equal(artifact.put.digest, artifact.digest);
        // A registry with the referrers API says so on push; one without says nothing.
        assert.equal(artifact.put.ociSubject, variant.referrersApi ? image.digest : undefined);

        const stored = await getManifest(registry.url, 'e2e/signed', artifact.digest);
        assert.ok(stored);
        assert.deepEqual(stored.bytes, artifact.bytes, 'the manifest bytes come back unchanged');
        assert.equal(stored.headerDigest, artifact.digest);
        assert.equal(stored.json.artifactType, sigstoreBundleType);
        assert.deepEqual(stored.json.subject, subject);
        // Only the artifact's own tags: a plain PUT never creates the fallback tag.
        assert.deepEqual(await tags(registry.url, 'e2e/signed'), ['v1']);

        const listed = await referrers(registry.url, 'e2e/signed', image.digest);
        assert.equal(listed.status, variant.referrersStatus);
        if (!variant.referrersApi) return;
        assert.deepEqual(listed.index?.manifests, [artifact.descriptor]);
        // olareg applies the artifactType filter and says so (OCI-Filters-Applied); a client must still
        // filter itself when a registry does not say so.
        const other = await pushArtifactHttp(registry.url, 'e2e/signed', subject, {
          artifactType: 'application/example',
        });
        const filtered = await referrers(registry.url, 'e2e/signed', image.digest, 'application/example');
        assert.equal(filtered.status, 200);
        assert.equal(filtered.filtersApplied, 'artifactType');
        assert.deepEqual(filtered.index?.manifests, [other.descriptor]);
        const both = await referrers(registry.url, 'e2e/signed', image.digest);
        assert.equal(both.filtersApplied, undefined);
        assert.equal(both.index?.manifests?.length, 2);
      });

      check('a referrers fallback index stored under sha256-<hex> comes back verbatim', async () => {
        const image = await pushImage(images, registry.host, 'e2e/fallback', 'v1');
        const subject = await descriptorOf(registry.url, 'e2e/fallback', image.digest);
        const artifact = await pushArtifactHttp(registry.url, 'e2e/fallback', subject);
        const index = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: mediaTypes.ociIndex,
            manifests: [artifact.descriptor],
          }),
        );
        const tag = fallbackTag(image.digest);
        assert.equal(tag, `sha256-${image.digest.slice('sha256:'.length)}`);
        await putManifest(registry.url, 'e2e/fallback', tag, index, mediaTypes.ociIndex);
        const stored = await getManifest(registry.url, 'e2e/fallback', tag);
        assert.deepEqual(stored?.bytes, index);
        assert.deepEqual(await tags(registry.url, 'e2e/fallback'), [tag, 'v1'].sort());
      });

      check('crane (go-containerregistry, as in cosign) pushing a referrer: what lands', async () => {
        const image = await pushImage(images, registry.host, 'e2e/crane-ref', 'v1');
        const subject = await descriptorOf(registry.url, 'e2e/crane-ref', image.digest);
        const artifact = await pushArtifactCrane(
          clients.crane,
          registry,
          'e2e/crane-ref',
          subject,
          { annotations },
          { check: false },
        );
        const stored = await getManifest(registry.url, 'e2e/crane-ref', artifact.digest);
        assert.deepEqual(stored?.bytes, artifact.bytes, 'the referrer is stored as pushed');
        const tagList = await tags(registry.url, 'e2e/crane-ref');

        if (variant.referrersApi) {
          assert.equal(artifact.crane.code, 0, artifact.crane.stderr);
          assert.deepEqual(tagList, ['v1'], 'no fallback tag next to a referrers API');
          const listed = await referrers(registry.url, 'e2e/crane-ref', image.digest);
          assert.deepEqual(listed.index?.manifests, [artifact.descriptor]);
        } else if (variant.referrersStatus === 404) {
          assert.equal(artifact.crane.code, 0, artifact.crane.stderr);
          const tag = fallbackTag(image.digest);
          assert.deepEqual(tagList, [tag, 'v1'].sort());
          const index = await getManifest(registry.url, 'e2e/crane-ref', tag);
          assert.equal(index?.json.mediaType, mediaTypes.ociIndex);
          // go-containerregistry v0.22.1 lifts artifactType and annotations into the index entry.
          // (sigstore/cosign#4641 reports a cosign whose fallback index lacks them: sigward must fetch
          // each listed manifest rather than trust the entry.)
          assert.deepEqual(index?.json.manifests, [artifact.descriptor]);
        } else {
          // olareg's 405 is not a "no referrers API" that go-containerregistry knows: the referrer is
          // stored but crane fails while reading the referrers list, and no fallback tag is written.
          // So cosign-signed fallback-tag tests use docker-registry, not olareg with referrers off.
          assert.notEqual(artifact.crane.code, 0);
          assert.match(artifact.crane.stderr, /referrers.*UNSUPPORTED/);
          assert.deepEqual(tagList, ['v1']);
        }
      });
    });
  }

  check('olareg with an OCI layout directory keeps its content across a restart', async () => {
    const first = await startOlareg(runDir, { referrers: true, store: 'dir', name: 'olareg-dir' });
    let image;
    try {
      image = await pushImage(images, first.host, 'e2e/kept', 'v1');
    } finally {
      await first.stop();
    }
    const second = await startOlareg(runDir, { referrers: true, store: 'dir', name: 'olareg-dir' });
    try {
      assert.equal(await headDigest(second, 'e2e/kept', 'v1'), image.digest);
    } finally {
      await second.stop();
    }
  });

  check('a listening socket is told apart by owner (guards against a shared free port)', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      assert.equal(ownsListener(process.pid, port), true);
      const other = await startOlareg(runDir, { referrers: true, name: 'olareg-owner-check' });
      try {
        assert.equal(ownsListener(process.pid, Number(other.host.split(':')[1])), false);
        assert.match(listenerCommand(Number(other.host.split(':')[1]))?.[0] ?? '', /olareg$/);
      } finally {
        await other.stop();
      }
    } finally {
      server.close();
    }
  });

  check('a stopped registry no longer answers', async () => {
    const registry = await startOlareg(runDir, { referrers: true, name: 'olareg-stop-check' });
    assert.ok(await answers(`${registry.url}/v2/`));
    await registry.stop();
    assert.equal(await answers(`${registry.url}/v2/`), false);
    const older = await startDockerRegistry(runDir, { name: 'docker-registry-stop-check' });
    assert.ok(await answers(`${older.url}/v2/`));
    await older.stop();
    assert.equal(await answers(`${older.url}/v2/`), false);
  });
});
