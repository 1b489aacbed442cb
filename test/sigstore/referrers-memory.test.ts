// A registry without the referrers API is asked once, then remembered (per registry, for a while):
// discovery there costs one request fewer, finds the same signatures, and asks again after the memory
// expires. A 404 that names an unknown repository is not remembered, and a registry that starts
// serving the API is believed at once. Real docker-registry (no API); the fault proxy plays the API.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient } from '../../src/oci/client.ts';
import { ReferrersSupport } from '../../src/oci/referrers-support.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import { discoverSignatures } from '../../src/sigstore/discover.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import {
  kubewarden,
  playReferrersApi,
  pushBundleReferrer,
  referrersFallbackTag,
} from './discover-fixtures.ts';

let registry: DockerRegistry;
let setup: RegistryClient;
let counter = 0;
const freshRepo = (): RepositoryName => ({ registry: registry.host, repository: `memory/r${++counter}` });

before(async () => {
  registry = await startDockerRegistry();
  setup = new RegistryClient();
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await setup?.close();
  await registry?.stop();
});

/** A client with its own memory and clock; requests go through a proxy that records their paths. */
async function counted(clock: { now: number }) {
  const proxy = await startFaultProxy({ upstream: registry.url });
  const client = new RegistryClient({
    referrersSupport: new ReferrersSupport({ ttlMs: 60_000, now: () => clock.now }),
  });
  const paths = {
    take: (): string[] => {
      const taken = proxy.requests.map((r) => r.path);
      proxy.clearRequests();
      return taken;
    },
  };
  const close = async (): Promise<void> => {
    await client.close();
    await proxy.close();
  };
  return {
    client,
    proxy,
    paths,
    close,
    via: (repo: RepositoryName) => ({ registry: proxy.host, repository: repo.repository }),
  };
}
const referrersAsked = (paths: readonly string[]): number =>
  paths.filter((p) => p.includes('/referrers/')).length;

test('no referrers API: asked once, remembered (one request fewer, same signature), asked again after the memory', async () => {
  const repo = freshRepo();
  await pushBundleReferrer(setup, repo, kubewarden.digest, kubewarden.bundle());
  const clock = { now: 1_000 };
  const { client, paths, close, via } = await counted(clock);
  try {
    const image = { repository: via(repo), digest: kubewarden.digest };
    const first = await discoverSignatures(client, image);
    const firstPaths = paths.take();
    assert.equal(referrersAsked(firstPaths), 1);
    assert.equal(first.candidates.length, 1);

    const second = await discoverSignatures(client, image);
    const secondPaths = paths.take();
    assert.equal(referrersAsked(secondPaths), 0, secondPaths.join('\n'));
    assert.equal(secondPaths.length, firstPaths.length - 1);
    assert.equal(second.referrers, 'fallback-tag');
    assert.deepEqual(
      second.candidates.map((c) => c.location),
      first.candidates.map((c) => c.location),
    );

    clock.now += 60_001;
    await discoverSignatures(client, image);
    assert.equal(referrersAsked(paths.take()), 1, 'asked again once it expired');
  } finally {
    await close();
  }
});

test('a 404 naming an unknown repository says nothing about the API: not remembered', async () => {
  const { client, proxy, paths, close } = await counted({ now: 0 });
  try {
    proxy.addFault({
      path: /\/referrers\//,
      fault: {
        kind: 'status',
        status: 404,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known' }] }),
      },
    });
    const image = {
      repository: { registry: proxy.host, repository: 'memory/absent' },
      digest: kubewarden.digest,
    };
    await discoverSignatures(client, image);
    await discoverSignatures(client, image);
    assert.equal(referrersAsked(paths.take()), 2);
  } finally {
    await close();
  }
});

test('a registry that starts serving the API: found once the memory expires, then asked every time while it answers', async () => {
  const repo = freshRepo();
  const entry = await pushBundleReferrer(setup, repo, kubewarden.digest, kubewarden.bundle(), {
    fallbackTag: false,
  });
  const clock = { now: 0 };
  const { client, proxy, paths, close, via } = await counted(clock);
  try {
    const image = { repository: via(repo), digest: kubewarden.digest };
    const before = await discoverSignatures(client, image);
    assert.equal(before.referrers, 'fallback-tag');
    assert.equal(before.candidates.length, 0, 'pushed through the API only: not in the fallback tag');

    playReferrersApi(proxy, [entry], { filtersApplied: true });
    clock.now += 60_001;
    paths.take();
    const upgraded = await discoverSignatures(client, image);
    assert.equal(upgraded.referrers, 'referrers-api');
    assert.equal(upgraded.candidates.length, 1);
    await discoverSignatures(client, image);
    assert.equal(referrersAsked(paths.take()), 2, 'still asked: the API answered');
  } finally {
    await close();
  }
});

const fallbackTagAsked = (paths: readonly string[]): number =>
  paths.filter((p) => p.endsWith(`/manifests/${referrersFallbackTag(kubewarden.digest)}`)).length;

test('a registry serving the API: the fallback tag is read beside it until the API has answered, then not asked (one request fewer, the same signature)', async () => {
  const repo = freshRepo();
  const entry = await pushBundleReferrer(setup, repo, kubewarden.digest, kubewarden.bundle());
  const clock = { now: 0 };
  const { client, proxy, paths, close, via } = await counted(clock);
  try {
    playReferrersApi(proxy, [entry], { filtersApplied: true });
    const image = { repository: via(repo), digest: kubewarden.digest };
    const first = await discoverSignatures(client, image);
    const firstPaths = paths.take();
    assert.equal(fallbackTagAsked(firstPaths), 1, 'unknown yet: read in the same round as the API');
    const second = await discoverSignatures(client, image);
    const secondPaths = paths.take();
    assert.equal(fallbackTagAsked(secondPaths), 0, secondPaths.join('\n'));
    assert.equal(secondPaths.length, firstPaths.length - 1);
    assert.equal(second.referrers, 'referrers-api');
    assert.deepEqual(
      second.candidates.map((c) => c.location),
      first.candidates.map((c) => c.location),
    );
    clock.now += 60_001;
    await discoverSignatures(client, image);
    assert.equal(fallbackTagAsked(paths.take()), 1, 'read beside the API again once the memory expired');
  } finally {
    await close();
  }
});

test('where the API answers, the fallback tag does not count (a signature only there is not found, as cosign would not find it)', async () => {
  const repo = freshRepo();
  await pushBundleReferrer(setup, repo, kubewarden.digest, kubewarden.bundle());
  const { client, proxy, close, via } = await counted({ now: 0 });
  try {
    playReferrersApi(proxy, [], { filtersApplied: true });
    const image = { repository: via(repo), digest: kubewarden.digest };
    for (const round of ['API unknown yet: tag read beside it', 'API remembered: tag not read']) {
      const found = await discoverSignatures(client, image);
      assert.equal(found.referrers, 'referrers-api', round);
      assert.deepEqual(found.candidates, [], round);
    }
  } finally {
    await close();
  }
});

test('a registry remembered to serve the API that stops: the fallback tag is read in that same discovery, never a wrong "unsigned"', async () => {
  const repo = freshRepo();
  const entry = await pushBundleReferrer(setup, repo, kubewarden.digest, kubewarden.bundle());
  const { client, proxy, paths, close, via } = await counted({ now: 0 });
  try {
    playReferrersApi(proxy, [entry], { filtersApplied: true });
    const image = { repository: via(repo), digest: kubewarden.digest };
    await discoverSignatures(client, image);
    proxy.clearFaults(); // docker-registry itself answers: no API
    paths.take();
    const found = await discoverSignatures(client, image);
    assert.equal(found.referrers, 'fallback-tag');
    assert.equal(found.candidates.length, 1);
    assert.equal(found.candidates[0]?.location.source, 'fallback-tag');
    assert.equal(fallbackTagAsked(paths.take()), 1);
  } finally {
    await close();
  }
});
