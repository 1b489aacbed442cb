// Discovery and image verification against a real registry (Debian's docker-registry, no referrers
// API), offline, with real public-good signatures placed the way cosign places them. The referrers API
// is played by the fault proxy in front of the same registry. Every check has a case that fails
// without it.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrustMaterial } from '@sigstore/verify';
import { SigwardError } from '../../src/errors.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import { ReferrersSupport } from '../../src/oci/referrers-support.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import { discoverSignatures } from '../../src/sigstore/discover.ts';
import { legacySignatureToBundle } from '../../src/sigstore/legacy.ts';
import {
  ANNOTATION,
  BUNDLE_ANNOTATION,
  BUNDLE_ARTIFACT_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  legacyTag,
} from '../../src/sigstore/layout.ts';
import { verifyImage, verifyImageForEach } from '../../src/sigstore/verify-image.ts';
import type { Authority, VerifyImageInput } from '../../src/sigstore/verify-image.ts';
import { collectionWatch, gate } from '../support/collected.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { pushTestImage } from '../support/images.ts';
import { compileIdentity } from '../../src/policy/identity.ts';
import { identityCheck } from '../../src/cli/identity-flags.ts';
import {
  cosignAttestation,
  fulcioRekor,
  kubewarden,
  multiCosigned,
  pushBundleReferrer,
  playReferrersApi,
  pushLegacySignature,
} from './discover-fixtures.ts';
import { prodRoot, publicKey, stagingRoot } from './ext.ts';

let registry: DockerRegistry;
let client: RegistryClient;
let counter = 0;
/** A fresh repository per test: nothing one test places can make another pass. */
const freshRepo = (): RepositoryName => ({ registry: registry.host, repository: `discover/r${++counter}` });

before(async () => {
  registry = await startDockerRegistry();
  client = new RegistryClient();
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await client?.close();
  await registry?.stop();
});

const keyless = (subject: string, issuer: string): Authority => ({
  kind: 'keyless',
  name: 'keyless',
  match: identityCheck(compileIdentity({ subject, issuer })),
});
const key = (path: string, requireTlog = false): Authority => ({
  kind: 'key',
  name: path.split('/').pop() ?? path,
  publicKey: publicKey(path),
  requireTlog,
});

function verify(
  repository: RepositoryName,
  digest: string,
  authorities: Authority[],
  extra: Partial<VerifyImageInput> = {},
) {
  return verifyImage({
    client,
    image: { repository, digest },
    authorities,
    trust: prodRoot().material,
    ...extra,
  });
}

describe('legacy .sig tag', () => {
  test('a real keyless cosign signature is found and verified, with issuer and subject', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const found = await discoverSignatures(client, { repository: repo, digest: fulcioRekor.digest });
    assert.equal(found.candidates.length, 1);
    assert.equal(found.candidates[0]?.location.source, 'legacy-tag');
    assert.equal(found.candidates[0]?.location.tag, legacyTag(fulcioRekor.digest));
    assert.equal(found.referrers, 'fallback-tag', 'docker-registry has no referrers API');

    const verdict = await verify(repo, fulcioRekor.digest, [
      keyless(fulcioRekor.subject, fulcioRekor.issuer),
    ]);
    assert.equal(verdict.status, 'verified', verdict.message);
    assert.equal(verdict.code, 'VERIFIED');
    const [signature] = verdict.signatures;
    assert.ok(signature?.verified && signature.signer.kind === 'certificate');
    assert.equal(signature.signer.subject, fulcioRekor.subject);
    assert.equal(signature.signer.issuer, fulcioRekor.issuer);
    assert.deepEqual(signature.signedAt, ['2023-01-20T20:51:33.000Z']);
  });

  test('another identity or issuer is rejected with its own code and expected/found', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const subject = await verify(repo, fulcioRekor.digest, [
      keyless('someone@example.com', fulcioRekor.issuer),
    ]);
    assert.equal(subject.status, 'rejected');
    assert.equal(subject.code, 'IDENTITY_SUBJECT_MISMATCH');
    assert.match(subject.message, /expected "someone@example.com", found "mitr@redhat.com"/);
    const issuer = await verify(repo, fulcioRekor.digest, [
      keyless(fulcioRekor.subject, 'https://accounts.google.com'),
    ]);
    assert.equal(issuer.code, 'IDENTITY_ISSUER_MISMATCH');
    assert.match(
      issuer.message,
      /expected "https:\/\/accounts.google.com", found "https:\/\/github.com\/login\/oauth"/,
    );
  });

  test('several authorities: any one suffices; a refusal still says who did sign', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const named = (name: string, subject: string): Authority => ({
      ...keyless(subject, fulcioRekor.issuer),
      name,
    });
    const either = await verify(repo, fulcioRekor.digest, [
      named('team-a', 'a@example.com'),
      named('team-b', fulcioRekor.subject),
    ]);
    assert.equal(either.status, 'verified', either.message);
    assert.ok(either.signatures[0]?.verified && either.signatures[0].authorities.join() === 'team-b');
    const neither = await verify(repo, fulcioRekor.digest, [
      named('team-a', 'a@example.com'),
      named('team-c', 'c@example.com'),
    ]);
    assert.equal(neither.code, 'IDENTITY_SUBJECT_MISMATCH');
    assert.match(neither.message, /team-a: subject: expected "a@example.com", found "mitr@redhat.com"/);
    const [refused] = neither.signatures;
    assert.ok(refused && !refused.verified);
    assert.equal(
      refused.signer?.kind === 'certificate' ? refused.signer.subject : undefined,
      fulcioRekor.subject,
    );
  });

  test('one signature names EVERY authority that accepts it, not only the first', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const named = (name: string, subject: string): Authority => ({
      ...keyless(subject, fulcioRekor.issuer),
      name,
    });
    const verdict = await verify(repo, fulcioRekor.digest, [
      named('team-a', fulcioRekor.subject),
      named('team-x', 'x@example.com'),
      named('team-b', fulcioRekor.subject),
    ]);
    const [signature] = verdict.signatures;
    assert.ok(signature?.verified, verdict.message);
    assert.deepEqual(signature.authorities, ['team-a', 'team-b']);
  });

  test('one verdict per authority (for thresholds), from one discovery', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const proxy = await startFaultProxy({ upstream: registry.url });
    try {
      const image = {
        repository: { registry: proxy.host, repository: repo.repository },
        digest: fulcioRekor.digest,
      };
      const named = (name: string, subject: string): Authority => ({
        ...keyless(subject, fulcioRekor.issuer),
        name,
      });
      const authorities = [
        named('right', fulcioRekor.subject),
        named('wrong', 'a@example.com'),
        { ...key(multiCosigned.key('alice')), name: 'alice' },
      ];
      // Primed first: the client then remembers that this registry has no referrers API.
      await verifyImage({ client, image, authorities: authorities.slice(0, 1), trust: prodRoot().material });
      proxy.clearRequests();
      await verifyImage({ client, image, authorities: authorities.slice(0, 1), trust: prodRoot().material });
      const once = proxy.requests.length;
      proxy.clearRequests();
      const verdicts = await verifyImageForEach({ client, image, authorities, trust: prodRoot().material });
      assert.equal(proxy.requests.length, once, 'the registry is read as for one authority');
      assert.deepEqual(
        [...verdicts].map(([name, v]) => [name, v.code]),
        [
          ['right', 'VERIFIED'],
          ['wrong', 'IDENTITY_SUBJECT_MISMATCH'],
          ['alice', 'SIGSTORE_KEY_UNTRUSTED'],
        ],
      );
    } finally {
      await proxy.close();
    }
  });

  test('a signature copied under another digest is rejected: it signs the digest in its payload', async () => {
    const repo = freshRepo();
    const image = await pushTestImage(client, repo);
    await pushLegacySignature(client, repo, image.digest, [fulcioRekor.layer()]);
    const verdict = await verify(repo, image.digest, [keyless(fulcioRekor.subject, fulcioRekor.issuer)]);
    assert.equal(verdict.status, 'rejected');
    assert.equal(verdict.code, 'SIGSTORE_CONTENT_MISMATCH');
    assert.match(verdict.message, new RegExp(`expected digest ${image.digest}`));
  });

  test('each layer is one signature; only the trusted key verifies; the layer cap is honoured', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, multiCosigned.digest, multiCosigned.layers());
    const verdict = await verify(repo, multiCosigned.digest, [key(multiCosigned.key('bob'))]);
    assert.equal(verdict.status, 'verified', verdict.message);
    assert.deepEqual(
      verdict.signatures.map((s) => (s.verified ? 'ok' : s.code)),
      ['SIGSTORE_SIGNATURE_INVALID', 'ok', 'SIGSTORE_SIGNATURE_INVALID'],
    );
    // Only the first layer (alice's) is examined under a cap of 1: bob's signature is never seen.
    const capped = await verify(repo, multiCosigned.digest, [key(multiCosigned.key('bob'))], {
      discovery: { maxLayers: 1 },
    });
    assert.equal(capped.status, 'rejected');
    assert.equal(capped.truncated, true);
    assert.equal(capped.signatures.length, 1);
    assert.match(capped.message, /more signatures were listed than examined/);
  });

  test('layers that sign one payload share its blob: fetched once', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, multiCosigned.digest, multiCosigned.layers());
    const proxy = await startFaultProxy({ upstream: registry.url });
    try {
      const found = await discoverSignatures(client, {
        repository: { registry: proxy.host, repository: repo.repository },
        digest: multiCosigned.digest,
      });
      assert.equal(found.candidates.length, 3);
      assert.equal(proxy.requests.filter((r) => r.path.includes('/blobs/')).length, 1);
    } finally {
      await proxy.close();
    }
  });

  test('a key-only signature needs --insecure-ignore-tlog (requireTlog false)', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, multiCosigned.digest, multiCosigned.layers());
    const verdict = await verify(repo, multiCosigned.digest, [key(multiCosigned.key('alice'), true)]);
    assert.equal(verdict.status, 'rejected');
    assert.equal(verdict.code, 'SIGSTORE_TLOG_INVALID');
  });

  test('a layer that is not a signature is ignored; a broken one is reported, not skipped', async () => {
    const repo = freshRepo();
    const broken = { ...fulcioRekor.layer(), annotations: {} };
    const other = { mediaType: 'application/vnd.example.other', annotations: {}, blob: Buffer.from('x') };
    await pushLegacySignature(client, repo, fulcioRekor.digest, [other, broken]);
    const found = await discoverSignatures(client, { repository: repo, digest: fulcioRekor.digest });
    assert.equal(found.ignored, 1);
    assert.equal(found.candidates.length, 1);
    assert.equal(found.candidates[0]?.problem?.code, 'SIGSTORE_BUNDLE_MALFORMED');
    const verdict = await verify(repo, fulcioRekor.digest, [
      keyless(fulcioRekor.subject, fulcioRekor.issuer),
    ]);
    assert.equal(verdict.code, 'SIGSTORE_BUNDLE_MALFORMED');
  });
});

/**
 * The real client, with every image manifest it finds (and its layers) watched for collection and
 * every blob held back until `release()`: what a read keeps while its blob is on the way.
 * `collectedWhileBlobWaits()` waits for the blob to be asked for, then collects until both are gone
 * (or 20 tries) and names what was collected.
 */
function manifestsWatchedBlobsHeld(manifestLabel: string) {
  const watch = collectionWatch();
  const blob = gate();
  const reader: VerifyImageInput['client'] = {
    listReferrers: (...a) => client.listReferrers(...a),
    getManifest: (...a) => client.getManifest(...a),
    findManifest: async (...a) => {
      const fetched = await client.findManifest(...a);
      if (fetched?.manifest.kind === 'manifest') {
        watch.watch(fetched, manifestLabel);
        for (const layer of fetched.manifest.layers) watch.watch(layer, 'its layer');
      }
      return fetched;
    },
    getBlob: async (...a) => {
      await blob.wait();
      return client.getBlob(...a);
    },
  };
  const collectedWhileBlobWaits = async (): Promise<string[]> => {
    await blob.waiting;
    return watch.collectedOf([manifestLabel, 'its layer']);
  };
  return { reader, release: blob.release, collectedWhileBlobWaits };
}

test('while a bundle blob is on the way, its referrer manifest is not kept', async () => {
  const repo = freshRepo();
  await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle());
  const { reader, release, collectedWhileBlobWaits } = manifestsWatchedBlobsHeld('the referrer manifest');
  const discovering = discoverSignatures(reader, { repository: repo, digest: kubewarden.digest });
  assert.deepEqual(await collectedWhileBlobWaits(), ['its layer', 'the referrer manifest']);
  release();
  const found = await discovering;
  assert.equal(found.candidates.length, 1);
  assert.equal(found.candidates[0]?.format, 'bundle');
  assert.ok(found.candidates[0]?.bundle !== undefined, 'the bundle was read');
});

describe('legacy .sig: verification starts while the payload is fetched', () => {
  /**
   * The real client, counting the blobs asked for and answered; `bytes` may replace what arrives (a
   * stand-in for a registry whose digest check failed), or `digest` what is asked for.
   */
  function counted(options: { bytes?: Uint8Array; digest?: string } = {}) {
    const log = { blobsAsked: 0, blobsAnswered: 0 };
    const reader: VerifyImageInput['client'] = {
      listReferrers: (...a) => client.listReferrers(...a),
      findManifest: (...a) => client.findManifest(...a),
      getManifest: (...a) => client.getManifest(...a),
      getBlob: async (name, blob, opts) => {
        log.blobsAsked++;
        const asked =
          options.digest === undefined || typeof blob === 'string'
            ? blob
            : { ...blob, digest: options.digest };
        try {
          const answered = await client.getBlob(name, asked, opts);
          return options.bytes ?? answered;
        } finally {
          log.blobsAnswered++;
        }
      },
    };
    return { reader, log };
  }

  test('the bundles are told once the blobs are asked for, before they arrive; the verdict is the same', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const { reader, log } = counted();
    let told: { bundles: readonly unknown[]; asked: number; answered: number } | undefined;
    const found = await discoverSignatures(
      reader,
      { repository: repo, digest: fulcioRekor.digest },
      {},
      (bundles) => {
        told = { bundles, asked: log.blobsAsked, answered: log.blobsAnswered };
      },
    );
    assert.deepEqual(told && { asked: told.asked, answered: told.answered }, { asked: 1, answered: 0 });
    assert.equal(found.candidates.length, 1);
    assert.equal(found.candidates[0]?.bundle, told?.bundles[0], 'the bundle read early is the one verified');

    // Through verifyImage: the certificate's chain is checked before the payload has arrived.
    const authority = keyless(fulcioRekor.subject, fulcioRekor.issuer);
    const early = counted();
    const probe = chainProbe(() => early.log.blobsAnswered);
    const verdict = await verifyImage({
      client: early.reader,
      image: { repository: repo, digest: fulcioRekor.digest },
      authorities: [authority],
      trust: probe.trust,
    });
    assert.equal(verdict.status, 'verified', verdict.message);
    assert.equal(probe.seen(), 0, 'blobs answered when the chain was checked');
    assert.deepEqual(verdict, await verify(repo, fulcioRekor.digest, [authority]));
  });

  test('while its payload is on the way, a legacy read keeps neither the .sig manifest nor the annotations its bundle was read from', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const { reader, release, collectedWhileBlobWaits } = manifestsWatchedBlobsHeld('the manifest');
    let told = 0;
    const discovering = discoverSignatures(
      reader,
      { repository: repo, digest: fulcioRekor.digest },
      {},
      (bundles) => (told += bundles.length),
    );
    const collected = await collectedWhileBlobWaits();
    assert.equal(told, 1, 'the bundle was read early');
    assert.deepEqual(collected, ['its layer', 'the manifest']);
    release();
    const found = await discovering;
    assert.equal(found.candidates.length, 1);
    assert.deepEqual(found.candidates[0]?.payload, fulcioRekor.layer().blob);
    assert.deepEqual(found.candidates[0]?.bundle, legacySignatureToBundle(fulcioRekor.layer()).bundle);
  });

  test('a payload that is not what its descriptor names is read from its own bytes, as before', async () => {
    // A stand-in for a registry whose digest check failed: it answers other bytes than the descriptor's.
    const repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const other = Buffer.from(
      fulcioRekor.layer().blob.toString().replace('fulcio-rekor-1', 'fulcio-rekor-2'),
    );
    const { reader } = counted({ bytes: other });
    let told: readonly unknown[] = [];
    const found = await discoverSignatures(
      reader,
      { repository: repo, digest: fulcioRekor.digest },
      {},
      (b) => {
        told = b;
      },
    );
    assert.equal(told.length, 1);
    const [candidate] = found.candidates;
    assert.notEqual(candidate?.bundle, told[0], 'not the bundle read from the descriptor');
    assert.deepEqual(candidate?.payload, other);
    assert.deepEqual(
      candidate?.bundle,
      legacySignatureToBundle({ ...fulcioRekor.layer(), blob: other }).bundle,
      'the bundle of the same annotations over these bytes',
    );
    const again = counted({ bytes: other });
    const verdict = await verifyImage({
      client: again.reader,
      image: { repository: repo, digest: fulcioRekor.digest },
      authorities: [keyless(fulcioRekor.subject, fulcioRekor.issuer)],
      trust: prodRoot().material,
    });
    // What Rekor logged is the digest of the real payload: these bytes are not what was signed.
    assert.equal(verdict.code, 'SIGSTORE_TLOG_INVALID', verdict.message);
  });

  test('no head start for a layer that cannot be read early: over the size cap, or annotations refused', async () => {
    const repo = freshRepo();
    const good = fulcioRekor.layer();
    const unsigned = { ...good, annotations: { ...good.annotations, [ANNOTATION.signature]: '' } };
    await pushLegacySignature(client, repo, fulcioRekor.digest, [unsigned, good]);
    const discover = async (options: { maxSignatureBytes?: number }) => {
      const told: unknown[] = [];
      const found = await discoverSignatures(
        counted().reader,
        { repository: repo, digest: fulcioRekor.digest },
        options,
        (bundles) => void told.push(...bundles),
      );
      return { told, found };
    };
    // Refused annotations: only the other layer starts early; the refused one fails as it always did.
    const refused = await discover({});
    assert.equal(refused.told.length, 1);
    assert.equal(refused.found.candidates[1]?.bundle, refused.told[0]);
    assert.match(
      refused.found.candidates[0]?.problem?.message ?? '',
      /signature annotation is missing or empty/,
    );
    // Over the cap: nothing starts early, and the cap refuses both layers as before.
    const capped = await discover({ maxSignatureBytes: good.blob.length - 1 });
    assert.deepEqual(capped.told, []);
    for (const candidate of capped.found.candidates)
      assert.match(candidate.problem?.message ?? '', /declares \d+ bytes, over the \d+-byte cap/);
  });

  test('a payload the registry does not have is the failure told, even when the certificate fails too', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const missing = `sha256:${'0'.repeat(64)}`;
    for (const root of [prodRoot(), stagingRoot()]) {
      const { reader } = counted({ digest: missing });
      const verdict = await verifyImage({
        client: reader,
        image: { repository: repo, digest: fulcioRekor.digest },
        authorities: [keyless(fulcioRekor.subject, fulcioRekor.issuer)],
        trust: root.material,
      });
      assert.equal(verdict.status, 'rejected', verdict.message);
      assert.equal(verdict.code, 'REGISTRY_NOT_FOUND', verdict.message);
    }
    // The certificate alone fails against the staging root (so the case above had two failures).
    const staging = await verify(
      repo,
      fulcioRekor.digest,
      [keyless(fulcioRekor.subject, fulcioRekor.issuer)],
      {
        trust: stagingRoot().material,
      },
    );
    assert.equal(staging.code, 'SIGSTORE_CERTIFICATE_UNTRUSTED');
  });

  test('a blob with the wrong bytes is a registry failure, though the certificate verified first', async () => {
    const repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const proxy = await startFaultProxy({ upstream: registry.url });
    try {
      proxy.addFault({ path: /\/blobs\//, fault: { kind: 'alter-body' } });
      const repository = { registry: proxy.host, repository: repo.repository };
      const log = { asked: 0, answered: 0 };
      const probe = chainProbe(() => `${log.asked} asked, ${log.answered} answered`);
      const verdict = await verifyImage({
        client: {
          listReferrers: (...a) => client.listReferrers(...a),
          findManifest: (...a) => client.findManifest(...a),
          getManifest: (...a) => client.getManifest(...a),
          getBlob: (...a) => {
            log.asked++;
            return client.getBlob(...a).finally(() => log.answered++);
          },
        },
        image: { repository, digest: fulcioRekor.digest },
        authorities: [keyless(fulcioRekor.subject, fulcioRekor.issuer)],
        trust: probe.trust,
      });
      assert.equal(probe.seen(), '1 asked, 0 answered', 'when the chain was checked');
      assert.equal(verdict.status, 'error', verdict.message);
      assert.equal(verdict.code, 'REGISTRY_DIGEST_MISMATCH');
    } finally {
      await proxy.close();
    }
  });
});

/**
 * The production root, noting what `now()` says when the certificate chain is first checked against
 * its Fulcio authorities (the library reads them only there).
 */
function chainProbe<T>(now: () => T) {
  const material = prodRoot().material;
  let seen: T | undefined;
  const trust: TrustMaterial = {
    ...material,
    get certificateAuthorities() {
      seen ??= now();
      return material.certificateAuthorities;
    },
  };
  return { trust, seen: () => seen };
}

describe('bundle referrers', () => {
  test('the fallback tag: the real cosign v3 bundle verifies, with its Fulcio extensions', async () => {
    const repo = freshRepo();
    await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle());
    const verdict = await verify(repo, kubewarden.digest, [keyless(kubewarden.subject, kubewarden.issuer)]);
    assert.equal(verdict.status, 'verified', verdict.message);
    const [signature] = verdict.signatures;
    assert.equal(signature?.location.source, 'fallback-tag');
    assert.ok(signature?.verified && signature.signer.kind === 'certificate');
    assert.equal(
      signature.signer.extensions.sourceRepositoryURI,
      'https://github.com/kubewarden/kubewarden-controller',
    );
    assert.equal(signature.signer.extensions.sourceRepositoryRef, 'refs/tags/v1.34.0');
  });

  test('the fallback index is not trusted: entries without or with a wrong artifactType are still read', async () => {
    const repo = freshRepo();
    await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle(), {
      entryArtifactType: 'application/vnd.example.sbom',
    });
    const verdict = await verify(repo, kubewarden.digest, [keyless(kubewarden.subject, kubewarden.issuer)]);
    assert.equal(verdict.status, 'verified', verdict.message);
  });

  test('the subject is unsigned: a bundle listed for another image is checked against that image', async () => {
    const repo = freshRepo();
    const image = await pushTestImage(client, repo);
    // A referrer that claims `image` as its subject, holding a bundle that signs kubewarden.
    await pushBundleReferrer(client, repo, image.digest, kubewarden.bundle());
    const verdict = await verify(repo, image.digest, [keyless(kubewarden.subject, kubewarden.issuer)]);
    assert.equal(verdict.status, 'rejected');
    assert.equal(verdict.code, 'SIGSTORE_CONTENT_MISMATCH');
    assert.match(verdict.message, new RegExp(`expected subject ${image.digest}, found sha256:c811d58d`));
  });

  test('referrers that are not bundles are ignored; a malformed bundle is a failure with its code', async () => {
    const repo = freshRepo();
    await pushBundleReferrer(client, repo, kubewarden.digest, Buffer.alloc(0), {
      layers: [{ mediaType: 'application/spdx+json', bytes: Buffer.from('{"spdxVersion":"SPDX-2.3"}') }],
    });
    assert.equal(
      (await verify(repo, kubewarden.digest, [keyless(kubewarden.subject, kubewarden.issuer)])).code,
      'NO_SIGNATURES',
    );
    await pushBundleReferrer(client, repo, kubewarden.digest, Buffer.from('{"mediaType": "nope"}'));
    const found = await discoverSignatures(client, { repository: repo, digest: kubewarden.digest });
    assert.equal(found.ignored, 1);
    const verdict = await verify(repo, kubewarden.digest, [keyless(kubewarden.subject, kubewarden.issuer)]);
    assert.equal(verdict.status, 'rejected');
    assert.equal(verdict.code, 'SIGSTORE_BUNDLE_MALFORMED');
  });

  test('attestations are not signatures: an attestation-only image is unsigned, and says so', async () => {
    const repo = freshRepo();
    const authority = [keyless('cody@soyland.com', 'https://github.com/login/oauth')];
    // As cosign writes it (its claim skips the blob), and without the manifest annotation: the
    // statement's predicate type tells.
    await pushBundleReferrer(client, repo, cosignAttestation.digest, cosignAttestation.bundle(), {
      predicateType: cosignAttestation.predicateType,
    });
    await pushBundleReferrer(client, repo, cosignAttestation.digest, cosignAttestation.bundle(), {
      predicateType: null,
      layers: [
        { mediaType: BUNDLE_ARTIFACT_TYPE, bytes: Buffer.from(`${cosignAttestation.bundle().toString()}\n`) },
      ],
    });
    const found = await discoverSignatures(client, { repository: repo, digest: cosignAttestation.digest });
    assert.equal(found.attestations, 2);
    assert.equal(found.claimedAttestations, 1);
    assert.equal(found.candidates.length, 0);
    const verdict = await verify(repo, cosignAttestation.digest, authority);
    assert.equal(verdict.code, 'NO_SIGNATURES');
    assert.match(
      verdict.message,
      /; 2 attestation\(s\) of other predicate types are not image signatures \(1 claimed by their referrer's dev\.sigstore\.bundle\.predicateType annotation, not downloaded\)$/,
    );
  });

  // The rule changed (it was "a referrer's annotations decide nothing"): a claim now makes discovery
  // skip, and still never admits. Hiding a signature is a denial (fail closed), so an unsigned claim
  // may decide it; only the bundle's own verified content can make a signature count.
  test("a referrer's claim only ever skips: a signature labelled as an attestation is hidden, unsigned", async () => {
    const repo = freshRepo();
    await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle(), {
      predicateType: 'https://slsa.dev/provenance/v1',
    });
    const verdict = await verify(repo, kubewarden.digest, [keyless(kubewarden.subject, kubewarden.issuer)]);
    assert.equal(verdict.status, 'unsigned', verdict.message);
    assert.equal(verdict.code, 'NO_SIGNATURES');
    assert.match(
      verdict.message,
      /1 claimed by their referrer's dev\.sigstore\.bundle\.predicateType annotation/,
    );
  });

  test("a referrer's claim never admits: an attestation labelled as a signature is read, and is no signature", async () => {
    const repo = freshRepo();
    await pushBundleReferrer(client, repo, cosignAttestation.digest, cosignAttestation.bundle(), {
      predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    });
    const found = await discoverSignatures(client, { repository: repo, digest: cosignAttestation.digest });
    assert.deepEqual([found.attestations, found.claimedAttestations, found.candidates.length], [1, 0, 0]);
    const verdict = await verify(repo, cosignAttestation.digest, [
      keyless('cody@soyland.com', 'https://github.com/login/oauth'),
    ]);
    assert.equal(verdict.code, 'NO_SIGNATURES');
    assert.match(verdict.message, /1 attestation\(s\) of other predicate types are not image signatures$/);
  });

  test('a referrer without a claim (no annotation on its entry or manifest) is read and verifies', async () => {
    const repo = freshRepo();
    await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle(), { predicateType: null });
    const verdict = await verify(repo, kubewarden.digest, [keyless(kubewarden.subject, kubewarden.issuer)]);
    assert.equal(verdict.status, 'verified', verdict.message);
  });

  test("the referrers API entry's claim skips before the manifest: neither it nor the blob is fetched", async () => {
    const repo = freshRepo();
    const signature = await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle(), {
      fallbackTag: false,
    });
    // The same signature again (another manifest), its entry alone claiming provenance.
    const labelled = await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle(), {
      fallbackTag: false,
      layers: [
        { mediaType: BUNDLE_ARTIFACT_TYPE, bytes: Buffer.from(`${kubewarden.bundle().toString()}\n`) },
      ],
    });
    const claim = (predicateType: string) => ({ [BUNDLE_ANNOTATION.predicateType]: predicateType });
    const proxy = await startFaultProxy({ upstream: registry.url });
    try {
      const viaProxy = { registry: proxy.host, repository: repo.repository };
      const authority = [keyless(kubewarden.subject, kubewarden.issuer)];
      playReferrersApi(
        proxy,
        [
          { ...signature, annotations: claim(COSIGN_SIGN_PREDICATE_TYPE) },
          { ...labelled, annotations: claim('https://spdx.dev/Document') },
        ],
        { filtersApplied: true },
      );
      const verdict = await verify(viaProxy, kubewarden.digest, authority);
      assert.equal(verdict.status, 'verified', verdict.message);
      assert.equal(verdict.signatures.length, 1);
      const manifests = proxy.requests.filter((r) => r.path.includes('/manifests/sha256:'));
      assert.deepEqual(
        manifests.map((r) => r.path.split('/').pop()),
        [signature.digest],
      );
      // The entry's claim alone decides the skip, whatever the manifest says; with the signature's
      // entry claiming an attestation too, nothing is left to admit.
      proxy.clearFaults();
      playReferrersApi(proxy, [{ ...signature, annotations: claim('https://spdx.dev/Document') }], {
        filtersApplied: true,
      });
      const hidden = await verify(viaProxy, kubewarden.digest, authority);
      assert.equal(hidden.code, 'NO_SIGNATURES', hidden.message);
    } finally {
      await proxy.close();
    }
  });

  test('entries claiming an attestation cost nothing and do not count toward the referrer cap', async () => {
    const repo = freshRepo();
    const signature = await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle(), {
      fallbackTag: false,
    });
    const sbom = { [BUNDLE_ANNOTATION.predicateType]: 'https://spdx.dev/Document' };
    // Made-up digests: a claimed entry is never fetched, so nothing needs to be behind it.
    const claimed = [1, 2, 3].map((i) => ({
      ...signature,
      digest: `sha256:${String(i).repeat(64)}`,
      annotations: sbom,
    }));
    const proxy = await startFaultProxy({ upstream: registry.url });
    try {
      playReferrersApi(proxy, [...claimed, signature], { filtersApplied: true });
      const viaProxy = { registry: proxy.host, repository: repo.repository };
      const found = await discoverSignatures(
        client,
        { repository: viaProxy, digest: kubewarden.digest },
        { maxReferrers: 1 },
      );
      assert.deepEqual(
        [found.candidates.length, found.truncated, found.attestations, found.claimedAttestations],
        [1, false, 3, 3],
      );
      assert.deepEqual(
        proxy.requests
          .filter((r) => r.path.includes('/manifests/sha256:'))
          .map((r) => r.path.split('/').pop()),
        [signature.digest],
      );
    } finally {
      await proxy.close();
    }
  });

  test('the referrer cap: only the first N listed referrers are examined', async () => {
    const repo = freshRepo();
    for (let i = 0; i < 3; i++) {
      await pushBundleReferrer(client, repo, kubewarden.digest, Buffer.from(`{"mediaType":"x${i}"}`));
    }
    const found = await discoverSignatures(
      client,
      { repository: repo, digest: kubewarden.digest },
      { maxReferrers: 2 },
    );
    assert.equal(found.candidates.length, 2);
    assert.equal(found.truncated, true);
  });

  test('the referrers API (played by the proxy): listed with the artifactType filter, then verified', async () => {
    const repo = freshRepo();
    const entry = await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle(), {
      fallbackTag: false,
    });
    const proxy = await startFaultProxy({ upstream: registry.url });
    try {
      playReferrersApi(proxy, [entry], { filtersApplied: true });
      const viaProxy = { registry: proxy.host, repository: repo.repository };
      const verdict = await verify(viaProxy, kubewarden.digest, [
        keyless(kubewarden.subject, kubewarden.issuer),
      ]);
      assert.equal(verdict.status, 'verified', verdict.message);
      assert.equal(verdict.referrers, 'referrers-api');
      assert.equal(verdict.signatures[0]?.location.source, 'referrers-api');
      const asked = proxy.requests.find((r) => r.path.includes('/referrers/'));
      assert.ok(
        asked?.path.endsWith(`?artifactType=${encodeURIComponent(BUNDLE_ARTIFACT_TYPE)}`),
        asked?.path,
      );
    } finally {
      await proxy.close();
    }
  });
});

describe('where and whether', () => {
  test('an image without signatures is "unsigned", a definite answer', async () => {
    const repo = freshRepo();
    const image = await pushTestImage(client, repo);
    const verdict = await verify(repo, image.digest, [keyless(kubewarden.subject, kubewarden.issuer)]);
    assert.equal(verdict.status, 'unsigned');
    assert.equal(verdict.code, 'NO_SIGNATURES');
    assert.deepEqual(verdict.signatures, []);
  });

  test('a signature repository: signatures stored elsewhere are found only there', async () => {
    const images = freshRepo();
    const signatures = freshRepo();
    await pushLegacySignature(client, signatures, fulcioRekor.digest, [fulcioRekor.layer()]);
    const authority = [keyless(fulcioRekor.subject, fulcioRekor.issuer)];
    assert.equal((await verify(images, fulcioRekor.digest, authority)).code, 'NO_SIGNATURES');
    const verdict = await verify(images, fulcioRekor.digest, authority, {
      discovery: { signatureRepository: signatures },
    });
    assert.equal(verdict.status, 'verified', verdict.message);
    assert.equal(
      verdict.signatures[0]?.location.repository,
      `${signatures.registry}/${signatures.repository}`,
    );
  });

  test('all three storages at once are read and deduplicated', async () => {
    const repo = freshRepo();
    const entry = await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle());
    await pushLegacySignature(client, repo, kubewarden.digest, [fulcioRekor.layer()]);
    const proxy = await startFaultProxy({ upstream: registry.url });
    try {
      playReferrersApi(proxy, [entry]);
      const found = await discoverSignatures(client, {
        repository: { registry: proxy.host, repository: repo.repository },
        digest: kubewarden.digest,
      });
      assert.deepEqual(
        found.candidates.map((c) => c.location.source),
        ['referrers-api', 'legacy-tag'],
        'the fallback entry is the same manifest as the API entry: read once',
      );
    } finally {
      await proxy.close();
    }
  });

  test('keyless without a log (--insecure-ignore-tlog): the time must come from a TSA', async () => {
    const repo = freshRepo();
    await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle());
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    const noTlog = (subject: string, issuer: string): Authority => ({
      ...keyless(subject, issuer),
      requireTlog: false,
    });
    // The cosign v3 bundle carries an RFC 3161 timestamp: verified without reading its log entry.
    const withTsa = await verify(repo, kubewarden.digest, [noTlog(kubewarden.subject, kubewarden.issuer)]);
    assert.equal(withTsa.status, 'verified', withTsa.message);
    // The 2023 legacy signature has only its Rekor SET for time: without the log, nothing dates it.
    const without = await verify(repo, fulcioRekor.digest, [noTlog(fulcioRekor.subject, fulcioRekor.issuer)]);
    assert.equal(without.status, 'rejected');
    assert.equal(without.code, 'SIGSTORE_TIMESTAMP_INVALID');
  });
});

describe('registry failures are never "unsigned"', () => {
  let proxy: FaultProxy;
  let repo: RepositoryName;
  let faulty: RegistryClient;
  let impatient: RegistryClient;
  before(async () => {
    repo = freshRepo();
    await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
    await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle());
    proxy = await startFaultProxy({ upstream: registry.url });
    // No real waits: retries are recorded, not slept; a stall ends at the short request deadline of
    // `impatient` (only the stalling case uses it: on a loaded machine an answer can take 500 ms).
    // Each case faults one path, the referrers API's too: nothing is remembered between requests.
    const options = {
      sleep: async () => undefined,
      maxManifestBytes: 64 * 1024,
    };
    faulty = new RegistryClient({ ...options, referrersSupport: new ReferrersSupport({ ttlMs: 0 }) });
    impatient = new RegistryClient({
      ...options,
      referrersSupport: new ReferrersSupport({ ttlMs: 0 }),
      requestTimeoutMs: 500,
    });
  });
  afterEach(() => proxy.clearFaults());
  after(async () => {
    await faulty?.close();
    await impatient?.close();
    await proxy?.close();
  });

  type Target = 'legacy' | 'referrer';
  const targets = {
    legacy: [fulcioRekor.digest, () => keyless(fulcioRekor.subject, fulcioRekor.issuer)],
    referrer: [kubewarden.digest, () => keyless(kubewarden.subject, kubewarden.issuer)],
  } as const;
  const cases: {
    name: string;
    path: RegExp;
    fault: Parameters<FaultProxy['addFault']>[0]['fault'];
    code: string;
    hits: readonly Target[];
    /** Needs the short request deadline. */
    stalls?: true;
  }[] = [
    {
      name: 'an oversized signature manifest',
      path: /\.sig$/,
      fault: { kind: 'oversize', bytes: 200_000 },
      code: 'REGISTRY_TOO_LARGE',
      hits: ['legacy', 'referrer'],
    },
    {
      name: 'a referrer manifest with the wrong bytes',
      path: /\/manifests\/sha256:/,
      fault: { kind: 'alter-body' },
      code: 'REGISTRY_DIGEST_MISMATCH',
      hits: ['referrer'],
    },
    {
      name: 'a rate limit (429) that does not end',
      path: /\/referrers\//,
      fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
      code: 'REGISTRY_RATE_LIMITED',
      hits: ['legacy', 'referrer'],
    },
    {
      name: 'a registry that never answers',
      path: /\.sig$/,
      fault: { kind: 'stall' },
      code: 'REGISTRY_TIMEOUT',
      hits: ['legacy', 'referrer'],
      stalls: true,
    },
    {
      name: 'a connection reset',
      path: /\/manifests\/sha256-/,
      fault: { kind: 'reset' },
      code: 'REGISTRY_UNAVAILABLE',
      hits: ['legacy', 'referrer'],
    },
    {
      name: 'a signature blob with the wrong bytes',
      path: /\/blobs\//,
      fault: { kind: 'alter-body' },
      code: 'REGISTRY_DIGEST_MISMATCH',
      hits: ['legacy', 'referrer'],
    },
  ];
  for (const c of cases) {
    test(`${c.name}: status error, ${c.code}`, async () => {
      proxy.addFault({ path: c.path, fault: c.fault });
      const repository = { registry: proxy.host, repository: repo.repository };
      const client = c.stalls === true ? impatient : faulty;
      for (const target of c.hits) {
        const [digest, authority] = targets[target];
        const verdict = await verifyImage({
          client,
          image: { repository, digest },
          authorities: [authority()],
          trust: prodRoot().material,
        });
        assert.equal(verdict.status, 'error', `${target}: ${verdict.message}`);
        assert.equal(verdict.code, c.code, verdict.message);
        assert.match(verdict.message, /registry failure .* whether it is signed is unknown/);
        await assert.rejects(
          discoverSignatures(client, { repository, digest }),
          (e: unknown) => e instanceof SigwardError && e.code === c.code,
        );
      }
    });
  }

  test("the caller's deadline: an abandoned verification is REGISTRY_ABORTED, not unsigned", async () => {
    const verdict = await verifyImage({
      client: faulty,
      image: {
        repository: { registry: proxy.host, repository: repo.repository },
        digest: fulcioRekor.digest,
      },
      authorities: [keyless(fulcioRekor.subject, fulcioRekor.issuer)],
      trust: prodRoot().material,
      discovery: { signal: AbortSignal.abort() },
    });
    assert.equal(verdict.status, 'error');
    assert.equal(verdict.code, 'REGISTRY_ABORTED');
  });

  test('without faults the same proxy verifies both (the cases above fail only by their fault)', async () => {
    for (const [digest, authority] of [
      [fulcioRekor.digest, keyless(fulcioRekor.subject, fulcioRekor.issuer)],
      [kubewarden.digest, keyless(kubewarden.subject, kubewarden.issuer)],
    ] as const) {
      const verdict = await verifyImage({
        client: faulty,
        image: { repository: { registry: proxy.host, repository: repo.repository }, digest },
        authorities: [authority],
        trust: prodRoot().material,
      });
      assert.equal(verdict.status, 'verified', verdict.message);
    }
  });
});
