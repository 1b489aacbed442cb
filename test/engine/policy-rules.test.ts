// The policy rules that count signatures, through the engine over a real registry: `threshold` counts
// DISTINCT authorities (one signature accepted by two authorities satisfies both), `multiArch: index`
// admits a platform digest through the signed index its tag names (and only an index listing it), and
// `multiArch: all-platforms` never calls an index with no runnable platform verified.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RegistryClient } from '../../src/oci/client.ts';
import { OCI_INDEX } from '../../src/oci/media-types.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import { startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import { pushTestImage, pushTestIndex } from '../support/images.ts';
import type { TestIndex } from '../support/images.ts';
import { kubewarden, pushLegacySignature, testSigner } from '../sigstore/discover-fixtures.ts';
import type { TestSigner } from '../sigstore/discover-fixtures.ts';
import {
  clusterPolicy,
  engineUnderTest,
  kubewardenAuthority,
  pemOf,
  podReview,
  pushFixtures,
  responseOf,
} from './harness.ts';
import type { Fixtures } from './harness.ts';

let registry: DockerRegistry;
let client: RegistryClient;
let fx: Fixtures;
let host: string;
let signer: TestSigner;
let counter = 0;

before(async () => {
  registry = await startDockerRegistry();
  host = registry.host;
  fx = await pushFixtures(host);
  client = new RegistryClient();
  signer = testSigner();
});
after(async () => {
  await client?.close();
  await registry?.stop();
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('threshold counts distinct authorities', () => {
  // Two authorities that both accept the kubewarden release signature: its exact workflow, and any
  // workflow of the kubewarden organisation.
  const orgAuthority = (subjectRegExp: string) => ({
    name: 'kubewarden-org',
    keyless: { identities: [{ issuer: kubewarden.issuer, subjectRegExp }] },
  });
  const thresholdPolicy = (subjectRegExp: string) =>
    clusterPolicy(
      'two-of-two',
      ['127.0.0.1:*/signed/**'],
      [kubewardenAuthority(), orgAuthority(subjectRegExp)],
      { threshold: 2 },
    );

  test('one signature accepted by two authorities counts for both: threshold 2 is met', async () => {
    const e = engineUnderTest([thresholdPolicy('https://github\\.com/kubewarden/.+')]);
    const result = await e.review(podReview([fx.keylessImage(host)]));
    const response = responseOf(result);
    assert.equal(response.allowed, true, response.status?.message);
    assert.equal(result.decisions?.[0]?.results[0]?.detail, 'verified by release-workflow, kubewarden-org');
    await e.close();
  });

  test('when only one of them accepts it: denied, 1 of 2, naming the one that did not', async () => {
    const e = engineUnderTest([thresholdPolicy('https://github\\.com/other-org/.+')]);
    const response = responseOf(await e.review(podReview([fx.keylessImage(host)])));
    assert.equal(response.allowed, false);
    assert.match(
      response.status?.message ?? '',
      // What kubewarden-org expected and found: the signature's own refusal, not "no signature".
      new RegExp(
        escape(
          'policy two-of-two: 1 of 2 required distinct authorities verified (passed: release-workflow); ' +
            `kubewarden-org: expected subject matching /^(?:https://github\\.com/other-org/.+)$/ from issuer "${kubewarden.issuer}", ` +
            `found subject "${kubewarden.subject}" from issuer "${kubewarden.issuer}" [THRESHOLD_NOT_MET]`,
        ) + '$',
      ),
    );
    await e.close();
  });
});

describe('multiArch', () => {
  const keyAuthority = () => ({
    name: 'ci-key',
    key: { data: pemOf(signer.publicKey) },
    insecureIgnoreTlog: true,
  });
  const multiPolicy = (multiArch: string) =>
    clusterPolicy(`multi-${multiArch}`, ['127.0.0.1:*/multi/**'], [keyAuthority()], { multiArch });
  const freshRepo = (): RepositoryName => ({ registry: host, repository: `multi/app${++counter}` });
  const sign = (repo: RepositoryName, digest: string) =>
    pushLegacySignature(client, repo, digest, [
      signer.layerFor(digest, `${repo.registry}/${repo.repository}`),
    ]);
  const name = (repo: RepositoryName) => `${repo.registry}/${repo.repository}`;

  async function signedIndex(tag: string): Promise<{ repo: RepositoryName; index: TestIndex }> {
    const repo = freshRepo();
    const index = await pushTestIndex(client, repo, { tag });
    await sign(repo, index.digest);
    return { repo, index };
  }

  test('index: a platform digest named with its tag is admitted through the signed index the tag names', async () => {
    const { repo, index } = await signedIndex('v1');
    const platform = index.images[1]!.digest;
    const image = `${name(repo)}:v1@${platform}`;
    const e = engineUnderTest([multiPolicy('index')]);
    const admitted = responseOf(await e.review(podReview([image])));
    assert.equal(admitted.allowed, true, admitted.status?.message);
    await e.close();
    // The same image under the digest rule: the platform digest itself is not signed.
    const strict = engineUnderTest([multiPolicy('digest')]);
    const denied = responseOf(await strict.review(podReview([image])));
    assert.equal(denied.allowed, false);
    assert.match(denied.status?.message ?? '', /\[SIGNATURE_MISSING\]$/);
    await strict.close();
  });

  test('index: a platform digest without a tag has no index to find, and the denial says so', async () => {
    const { repo, index } = await signedIndex('v1');
    const platform = index.images[0]!.digest;
    const e = engineUnderTest([multiPolicy('index')]);
    const denied = responseOf(await e.review(podReview([`${name(repo)}@${platform}`])));
    assert.equal(denied.allowed, false);
    assert.match(
      denied.status?.message ?? '',
      new RegExp(
        `multiArch index: ${escape(`${name(repo)}@${platform}`)} names no tag, so there is no index to find whose signature could count .*\\[SIGNATURE_MISSING\\]$`,
      ),
    );
    await e.close();
  });

  test('index: a signed index that does not list the digest cannot vouch for it', async () => {
    const { repo, index } = await signedIndex('v1');
    const other = await pushTestIndex(client, repo, { tag: 'v2' });
    await sign(repo, other.digest);
    const e = engineUnderTest([multiPolicy('index')]);
    const denied = responseOf(await e.review(podReview([`${name(repo)}:v2@${index.images[0]!.digest}`])));
    assert.equal(denied.allowed, false);
    assert.match(
      denied.status?.message ?? '',
      new RegExp(`the index ${other.digest} does not list ${index.images[0]!.digest}.*\\[INDEX_MISMATCH\\]$`),
    );
    await e.close();
  });

  test('index: the verdict is keyed by the index it relied on; a tag moved to an unsigned index is re-verified', async () => {
    const { repo, index } = await signedIndex('v1');
    const platform = index.images[0]!;
    const image = `${name(repo)}:v1@${platform.digest}`;
    const e = engineUnderTest([multiPolicy('index')], { cache: { digestTtlMs: 0 } });
    assert.equal(responseOf(await e.review(podReview([image]))).allowed, true);
    assert.equal(responseOf(await e.review(podReview([image]))).allowed, true);
    assert.equal(await e.verifications(), 1, 'the second review was a cache hit');
    // v1 now names another index, unsigned, that lists the same platform manifest.
    const moved = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ ...platform.descriptor, platform: platform.platform }],
      }),
    );
    await client.pushManifest(repo, moved, OCI_INDEX, { tag: 'v1' });
    const denied = responseOf(await e.review(podReview([image])));
    assert.equal(denied.allowed, false, 'never the verdict cached for the old index');
    assert.match(denied.status?.message ?? '', /\[SIGNATURE_MISSING\]$/);
    assert.equal(await e.verifications(), 2);
    await e.close();
  });

  test('all-platforms: an index with no runnable platform is refused with its own reason, even signed', async () => {
    const repo = freshRepo();
    const attestation = await pushTestImage(client, repo, {
      platform: { os: 'unknown', architecture: 'unknown' },
    });
    const indexOf = async (manifests: object[]) => {
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
      const digest = (await client.pushManifest(repo, bytes, OCI_INDEX)).descriptor.digest;
      await sign(repo, digest);
      return digest;
    };
    const onlyAttestations = await indexOf([{ ...attestation.descriptor, platform: attestation.platform }]);
    const empty = await indexOf([]);
    const e = engineUnderTest([multiPolicy('all-platforms')]);
    for (const [digest, listed] of [
      [onlyAttestations, 'lists only 1 manifest\\(s\\) of platform unknown/unknown \\(attestations\\)'],
      [empty, 'lists no manifests'],
    ] as const) {
      const denied = responseOf(await e.review(podReview([`${name(repo)}@${digest}`])));
      assert.equal(denied.allowed, false, `${digest} must not be admitted`);
      assert.match(
        denied.status?.message ?? '',
        new RegExp(
          `policy multi-all-platforms, authority ci-key: the index ${listed}: no runnable platform whose signature could be checked \\[INDEX_WITHOUT_PLATFORMS\\]$`,
        ),
      );
    }
    await e.close();
  });
});
