// What cosign v3 writes into each kind of registry when it signs an image keylessly against the world's
// Sigstore (Fulcio, Rekor v2, TSA): this is exactly what sigward's discovery must find.
// - referrers API (olareg on): one bundle referrer, found through the API, no tag at all;
// - no referrers API, 404 (docker-registry 2.8): the same referrer plus the fallback tag `sha256-<hex>`,
//   an index listing it;
// - no referrers API, 405 (olareg off): cosign fails (go-containerregistry takes only 404/400/406 for
//   "no referrers API"), so fallback-tag tests with cosign use docker-registry;
// - legacy (`--new-bundle-format=false`, TSA instead of a tlog): the `sha256-<hex>.sig` tag.
// Also found here, against the notes: the config descriptor carries artifactType too, and the Rekor v2
// entry is a hashedrekord 0.0.2, not a dsse 0.0.2.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { sigstoreBundleType } from './world/artifacts.ts';
import { expectBundleReferrer, expectLegacySignature } from './world/cosign-layout.ts';
import { createClients, writeSecretFile, type Clients, type ToolResult } from './world/clients.ts';
import { pushImage, pushIndex, type ImageTools, type PushedImage } from './world/images.ts';
import {
  fallbackTag,
  getManifest,
  mediaTypes,
  referrers,
  tags,
  type Descriptor,
  type ManifestJson,
} from './world/oci-http.ts';
import { startOidcIssuer, type OidcIssuerServer } from './world/oidc-issuer.ts';
import { startDockerRegistry, startOlareg, type Registry } from './world/registry.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import { startSigstore, type Sigstore } from './world/sigstore.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const namespace = 'apps';
const serviceAccount = 'release';
const identity = `https://kubernetes.io/namespaces/${namespace}/serviceaccounts/${serviceAccount}`;

describe('cosign v3 signs images into the registries', () => {
  let runDir: RunDir;
  let clients: Clients;
  let images: ImageTools;
  let issuer: OidcIssuerServer;
  let sigstore: Sigstore | undefined;
  const registries: Record<'on' | 'off' | 'older', Registry | undefined> = {
    on: undefined,
    off: undefined,
    older: undefined,
  };
  let failed = false;
  const check = stepsNotingFailure(() => (failed = true));

  before(async () => {
    runDir = createRunDir('sigward-cosign-oci-');
    try {
      clients = createClients(runDir);
      await clients.cosign(['version']);
      images = { crane: clients.crane, workDir: runDir.sub('images') };
      issuer = await startOidcIssuer();
      // Each piece is recorded as soon as it is up, so `after` stops it even when another fails to start.
      const started = await Promise.allSettled([
        startSigstore(runDir, { issuer: issuer.issuer }).then((s) => (sigstore = s)),
        startOlareg(runDir, { referrers: true }).then((r) => (registries.on = r)),
        startOlareg(runDir, { referrers: false }).then((r) => (registries.off = r)),
        startDockerRegistry(runDir).then((r) => (registries.older = r)),
      ]);
      for (const result of started) if (result.status === 'rejected') throw result.reason;
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await Promise.allSettled([
      sigstore?.stop(),
      issuer?.stop(),
      ...Object.values(registries).map((r) => r?.stop()),
    ]);
    if (failed) console.error(`cosign-oci e2e: logs kept in ${runDir.keepLogs('cosign-oci')}`);
    runDir.remove();
  });

  const registry = (which: keyof typeof registries): Registry => {
    const found = registries[which];
    assert.ok(found, `registry ${which} did not start`);
    return found;
  };

  const trustedRoot = (): TrustedRoot =>
    TrustedRoot.fromJSON(JSON.parse(readFileSync(trust().trustedRootPath, 'utf8')));
  const trust = (): Sigstore => {
    assert.ok(sigstore, 'Sigstore did not start');
    return sigstore;
  };

  async function sign(
    image: PushedImage,
    extra: readonly string[] = [],
    mustSucceed = true,
  ): Promise<ToolResult> {
    const token = writeSecretFile(
      runDir.sub('tokens'),
      `token-${Date.now()}-${Math.random().toString(16).slice(2)}`,
      issuer.kubernetesToken(namespace, serviceAccount),
    );
    return clients.cosign(
      [
        'sign',
        '--yes',
        `--identity-token=${token}`,
        `--signing-config=${trust().signingConfigPath}`,
        `--trusted-root=${trust().trustedRootPath}`,
        ...extra,
        image.byDigest,
      ],
      { check: mustSucceed },
    );
  }

  async function verify(image: PushedImage): Promise<ToolResult> {
    return clients.cosign([
      'verify',
      `--trusted-root=${trust().trustedRootPath}`,
      `--certificate-identity=${identity}`,
      `--certificate-oidc-issuer=${issuer.issuer}`,
      '--insecure-ignore-sct',
      image.byDigest,
    ]);
  }

  /** The bundle referrer (world/cosign-layout.ts), plus what is particular to cosign v3.1. */
  async function assertBundleReferrer(
    r: Registry,
    repository: string,
    image: PushedImage,
    referrer: Descriptor,
    subjectMediaType: string = mediaTypes.ociManifest,
  ): Promise<ManifestJson> {
    const { manifest, bundle } = await expectBundleReferrer(r, repository, referrer.digest, {
      digest: image.digest,
      mediaType: subjectMediaType,
    });
    // cosign 3.1 also copies the artifactType onto the config descriptor (harmless; not in the notes).
    assert.equal(manifest.config?.artifactType, sigstoreBundleType);
    assert.match(manifest.annotations?.['org.opencontainers.image.created'] ?? '', /^\d{4}-\d\d-\d\dT/);
    // One Rekor v2 entry, and it is a hashedrekord 0.0.2 (of the DSSE signature), not the `dsse` 0.0.2
    // that shared/notes/sigstore-formats.md §2.3 expects: the verifier must accept both kinds.
    assert.deepEqual(
      bundle.verificationMaterial.tlogEntries.map((e) => e.kindVersion),
      [{ kind: 'hashedrekord', version: '0.0.2' }],
    );
    assert.equal(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.length, 1);
    // And it verifies with @sigstore/verify, the library sigward verifies with (no CT log in this tier;
    // the TSA's timestamp is the one counted, Rekor v2 has no signed time).
    const verifier = new Verifier(toTrustMaterial(trustedRoot()), {
      ctlogThreshold: 0,
      tlogThreshold: 1,
      timestampThreshold: 1,
    });
    const signer = verifier.verify(toSignedEntity(bundleFromJSON(bundle)));
    assert.equal(signer.identity?.subjectAlternativeName, identity);
    assert.equal(signer.identity?.extensions?.issuer, issuer.issuer);
    return manifest;
  }

  check('referrers API (olareg on): one bundle referrer, no tag', async () => {
    const r = registry('on');
    const image = await pushImage(images, r.host, 'cosign/app', 'v1');
    await sign(image);
    const listed = await referrers(r.url, 'cosign/app', image.digest);
    assert.equal(listed.status, 200);
    assert.equal(listed.index?.manifests?.length, 1);
    const entry = listed.index?.manifests?.[0];
    assert.ok(entry);
    assert.equal(entry.artifactType, sigstoreBundleType);
    const manifest = await assertBundleReferrer(r, 'cosign/app', image, entry);
    assert.deepEqual(entry.annotations, manifest.annotations, 'the API lifts the annotations');
    assert.deepEqual(await tags(r.url, 'cosign/app'), ['v1'], 'neither a fallback tag nor a .sig tag');
    await verify(image);
  });

  check('no referrers API, 404 (docker-registry): the referrer and the fallback tag index', async () => {
    const r = registry('older');
    const image = await pushImage(images, r.host, 'cosign/app', 'v1');
    await sign(image);
    const tag = fallbackTag(image.digest);
    assert.deepEqual(await tags(r.url, 'cosign/app'), [tag, 'v1'].sort());
    const index = await getManifest(r.url, 'cosign/app', tag);
    assert.ok(index);
    assert.equal(index.json.mediaType, mediaTypes.ociIndex);
    assert.equal(index.json.manifests?.length, 1);
    const entry = index.json.manifests?.[0];
    assert.ok(entry);
    // The fallback entry lifts artifactType but not the annotations (sigstore/cosign#4641): discovery
    // must fetch each listed manifest to learn what it is.
    assert.deepEqual(Object.keys(entry).sort(), ['artifactType', 'digest', 'mediaType', 'size']);
    assert.equal(entry.mediaType, mediaTypes.ociManifest);
    assert.equal(entry.artifactType, sigstoreBundleType);
    await assertBundleReferrer(r, 'cosign/app', image, entry);
    await verify(image);

    // A second signature is appended to the same index, never a second tag.
    await sign(image);
    const again = await getManifest(r.url, 'cosign/app', tag);
    assert.equal(again?.json.manifests?.length, 2);
    assert.deepEqual(await tags(r.url, 'cosign/app'), [tag, 'v1'].sort());
  });

  check(
    'an index signed with --recursive: a referrer for the index and for each platform image',
    async () => {
      const r = registry('on');
      const index = await pushIndex(images, r.host, 'cosign/multi', 'v1');
      await sign(index, ['--recursive']);
      const subjects = [
        { digest: index.digest, mediaType: mediaTypes.ociIndex },
        ...(index.platforms ?? []).map((p) => ({ digest: p.digest, mediaType: mediaTypes.ociManifest })),
      ];
      assert.equal(subjects.length, 3);
      for (const subject of subjects) {
        const listed = await referrers(r.url, 'cosign/multi', subject.digest);
        assert.equal(listed.index?.manifests?.length, 1, `one signature for ${subject.digest}`);
        const entry = listed.index?.manifests?.[0];
        assert.ok(entry);
        await assertBundleReferrer(
          r,
          'cosign/multi',
          { ...index, digest: subject.digest },
          entry,
          subject.mediaType,
        );
      }
    },
  );

  check(
    'legacy .sig (cosign v3 --new-bundle-format=false, TSA, no tlog): the sha256-<hex>.sig tag',
    async () => {
      const r = registry('older');
      const image = await pushImage(images, r.host, 'cosign/legacy', 'v1');
      const token = writeSecretFile(
        runDir.sub('tokens'),
        'legacy-token',
        issuer.kubernetesToken(namespace, serviceAccount),
      );
      // The world's e2e tier has no Rekor v1 (full tier only), so the legacy form gets its time from the TSA.
      await clients.cosign([
        'sign',
        '--yes',
        '--new-bundle-format=false',
        '--use-signing-config=false',
        '--tlog-upload=false',
        `--fulcio-url=${trust().fulcioUrl}`,
        `--timestamp-server-url=${trust().tsaUrl}`,
        `--trusted-root=${trust().trustedRootPath}`,
        `--identity-token=${token}`,
        image.byDigest,
      ]);
      const tag = `${fallbackTag(image.digest)}.sig`;
      assert.deepEqual(await tags(r.url, 'cosign/legacy'), [tag, 'v1'].sort(), 'a .sig tag, no referrer');
      const { manifest, layers } = await expectLegacySignature(
        r,
        'cosign/legacy',
        image.digest,
        `${r.host}/cosign/legacy`,
      );
      assert.equal(manifest.mediaType, mediaTypes.ociManifest);
      assert.equal(manifest.config?.mediaType, 'application/vnd.oci.image.config.v1+json');
      assert.equal(layers.length, 1);
      const annotations = layers[0]?.annotations ?? {};
      // Signature, certificate, an empty chain, the RFC 3161 timestamp; no Rekor bundle (no tlog).
      assert.deepEqual(Object.keys(annotations).sort(), [
        'dev.cosignproject.cosign/signature',
        'dev.sigstore.cosign/certificate',
        'dev.sigstore.cosign/chain',
        'dev.sigstore.cosign/rfc3161timestamp',
      ]);
      assert.equal(annotations['dev.sigstore.cosign/chain'], '');
      const timestamp = JSON.parse(annotations['dev.sigstore.cosign/rfc3161timestamp'] ?? '{}') as {
        SignedRFC3161Timestamp?: string;
      };
      assert.ok(timestamp.SignedRFC3161Timestamp);
      await clients.cosign([
        'verify',
        `--trusted-root=${trust().trustedRootPath}`,
        `--certificate-identity=${identity}`,
        `--certificate-oidc-issuer=${issuer.issuer}`,
        '--insecure-ignore-sct',
        '--insecure-ignore-tlog',
        image.byDigest,
      ]);
    },
  );

  check(
    'no referrers API, 405 (olareg off): cosign v3 cannot sign, go-containerregistry stops at the 405',
    async () => {
      const r = registry('off');
      const image = await pushImage(images, r.host, 'cosign/app', 'v1');
      const result = await sign(image, [], false);
      assert.notEqual(result.code, 0, 'cosign cannot use a registry that answers the referrers API with 405');
      // The Rekor v2 entry is already made when the push fails: logged, but no fallback tag written.
      assert.match(result.stderr, /failed to upload manifest: GET .*\/referrers\/.*UNSUPPORTED/);
      assert.deepEqual(await tags(r.url, 'cosign/app'), ['v1']);
    },
  );
});
