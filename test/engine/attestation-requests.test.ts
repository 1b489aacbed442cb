// Registry round trips of an attestation check, counted by a recording proxy in front of a real
// registry: Debian's docker-registry (no referrers API: the fallback tag; for the API path the proxy
// plays it, answering with the index a registry with the API gives, manifest annotations lifted), and,
// opt-in (SIGWARD_TEST_OLAREG=1, npm run e2e:tools), olareg serving the real referrers API.
// Each image carries what a real one accumulates: an image signature (a bundle referrer and the legacy
// .sig tag), the wanted SLSA provenance and an unwanted SPDX SBOM, so reading what cannot hold a wanted
// attestation shows up as extra requests. One review on a fresh engine (empty caches and referrers
// memory); the requests named by what they read. Before this change (main b6f9e61) the same reviews
// made: fallback tag 11, referrers API 11, legacy .att 9; with a signing authority beside: 20, 21, 14.
// The signature path skips referrers claiming an attestation type too: before that (main 9f561c6) a
// signing authority alone made 10 requests in every storage, with an attesting one beside 11; now
// 8 / 6 / 6 (fallback tag / API played / olareg) and 10 / 9 / 9.
// Then: the claimed type only ever skips: a mislabelled attestation is not admitted, nor is one whose
// statement has another type than its label claims; and a failed shared read fails both checks alike.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { RegistryClient } from '../../src/oci/client.ts';
import { counterValue } from '../../src/telemetry/metrics.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import {
  BUNDLE_ANNOTATION,
  BUNDLE_ARTIFACT_TYPE,
  BUNDLE_CONTENT_DSSE,
  COSIGN_SIGN_PREDICATE_TYPE,
  legacyTag,
  referrersFallbackTag,
} from '../../src/sigstore/layout.ts';
import { startDockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import type { FaultProxy } from '../support/fault-proxy.ts';
import { pushTestImage } from '../support/images.ts';
import { olaregSkipReason, startOlareg } from '../support/olareg.ts';
import {
  playReferrersApi,
  pushBundleReferrer,
  pushLegacySignature,
  testSigner,
} from '../sigstore/discover-fixtures.ts';
import {
  MAIN_REF_CONDITION as MAIN,
  SLSA_V1,
  attestationSigner,
  envelopeLayer,
  provenanceStatement,
  pushLegacyAttestations,
  statement,
} from '../sigstore/attestation-fixtures.ts';
import { clusterPolicy, engineUnderTest, pemOf, podReview, responseOf } from './harness.ts';

const SPDX = 'https://spdx.dev/Document';
const builder = attestationSigner();
const signer = testSigner();
const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** A registry behind a recording proxy; `api`: how the referrers API is served. */
interface Storage {
  readonly proxy: FaultProxy;
  readonly host: string;
  readonly api: 'none' | 'played' | 'real';
  stop(): Promise<void>;
}

interface Image {
  readonly repo: RepositoryName;
  readonly digest: string;
  /** The image through the proxy. */
  readonly ref: string;
  /** Bundle referrers as a registry with the API lists them (manifest annotations lifted). */
  readonly listed: Descriptor[];
  /** What each manifest or blob digest holds, in words. */
  readonly names: Map<string, string>;
}

let client: RegistryClient;
let counter = 0;
before(() => {
  client = new RegistryClient();
});
after(async () => {
  await client?.close();
});

async function behindProxy(
  upstream: { url: string; host: string; stop(): Promise<void> },
  api: Storage['api'],
) {
  const proxy = await startFaultProxy({ upstream: upstream.url });
  return {
    proxy,
    host: upstream.host,
    api,
    stop: async () => {
      await proxy.close();
      await upstream.stop();
    },
  };
}

/**
 * A new image signed by `signer`: a cosign-sign bundle referrer (labelled `label`, default its own
 * type; null: no label) and, unless `legacy` is false, the legacy .sig.
 */
async function signedImage(
  storage: Storage,
  { legacy = true, label }: { legacy?: boolean; label?: string | null } = {},
): Promise<Image> {
  const repo = { registry: storage.host, repository: `attreq/app${++counter}` };
  const image = await pushTestImage(client, repo, { tag: 'v1' });
  const layer = signer.layerFor(image.digest, `${storage.host}/${repo.repository}`);
  if (legacy) await pushLegacySignature(client, repo, image.digest, [layer]);
  const img: Image = {
    repo,
    digest: image.digest,
    ref: `${storage.proxy.host}/${repo.repository}@${image.digest}`,
    listed: [],
    names: new Map([[sha256(layer.blob), '.sig layer']]),
  };
  await referrer(storage, img, 'signature', statement(image.digest, COSIGN_SIGN_PREDICATE_TYPE, {}), label);
  return img;
}

/** Pushes `payload` as a bundle referrer labelled `label` (default: its own predicate type; null: none). */
async function referrer(
  storage: Storage,
  img: Image,
  name: string,
  payload: Buffer,
  label: string | null = (JSON.parse(payload.toString()) as { predicateType: string }).predicateType,
): Promise<void> {
  const bundle = builder.bundle(payload);
  const entry = await pushBundleReferrer(client, img.repo, img.digest, bundle, {
    predicateType: label,
    // A registry with the API indexes the referrer itself; cosign writes the tag only without it.
    fallbackTag: storage.api !== 'real',
  });
  img.names.set(entry.digest, `manifest ${name}`).set(sha256(bundle), `blob ${name}`);
  img.listed.push({
    ...entry,
    annotations: {
      [BUNDLE_ANNOTATION.content]: BUNDLE_CONTENT_DSSE,
      ...(label === null ? {} : { [BUNDLE_ANNOTATION.predicateType]: label }),
    },
  });
}

/** + a provenance (built from main) and an SBOM, both as bundle referrers. */
async function referrersImage(storage: Storage): Promise<Image> {
  const img = await signedImage(storage);
  await referrer(storage, img, 'provenance', provenanceStatement(img.digest, 'refs/heads/main'));
  await referrer(storage, img, 'sbom', statement(img.digest, SPDX, { spdxVersion: 'SPDX-2.3' }));
  return img;
}

/** + a provenance and an SBOM as layers of the legacy .att tag. */
async function legacyImage(storage: Storage): Promise<Image> {
  const img = await signedImage(storage);
  const provenance = envelopeLayer(builder, provenanceStatement(img.digest, 'refs/heads/main'));
  const sbom = envelopeLayer(builder, statement(img.digest, SPDX, { spdxVersion: 'SPDX-2.3' }), SPDX);
  await pushLegacyAttestations(client, img.repo, img.digest, [provenance, sbom]);
  img.names.set(sha256(provenance.blob), '.att layer provenance').set(sha256(sbom.blob), '.att layer sbom');
  return img;
}

const attesting = () => ({
  name: 'release-builder',
  key: { data: builder.pem },
  insecureIgnoreTlog: true,
  attestations: [{ name: 'provenance', predicateType: 'slsaprovenance1', conditions: [MAIN] }],
});
const signing = () => ({
  name: 'release-key',
  key: { data: pemOf(signer.publicKey) },
  insecureIgnoreTlog: true,
});
/** Trusts the key of the bundle referrers (the signature referrer, not the .sig layer). */
const bundleSigning = () => ({ name: 'bundle-key', key: { data: builder.pem }, insecureIgnoreTlog: true });
const policy = (authorities: object[]) =>
  clusterPolicy('counted', ['127.0.0.1:*/attreq/**'], authorities, { threshold: authorities.length });

/** One review of `img` on a fresh engine: its answer and the requests it made, named. */
async function reviewed(storage: Storage, resource: object, img: Image) {
  if (storage.api === 'played') playReferrersApi(storage.proxy, img.listed, { filtersApplied: true });
  storage.proxy.clearRequests();
  const e = engineUnderTest([resource]);
  try {
    const answer = responseOf(await e.review(podReview([img.ref])));
    const stem = referrersFallbackTag(img.digest);
    const named = storage.proxy.requests.map((r) => {
      assert.equal(r.method, 'GET', r.path);
      const path = r.path.replace(`/v2/${img.repo.repository}/`, '');
      if (path === `referrers/${img.digest}?artifactType=${encodeURIComponent(BUNDLE_ARTIFACT_TYPE)}`)
        return 'referrers';
      if (path === `manifests/${stem}`) return 'fallback tag';
      if (path === `manifests/${legacyTag(img.digest)}`) return '.sig tag';
      if (path === `manifests/${legacyTag(img.digest, 'attestation')}`) return '.att tag';
      const [, kind, digest] = /^(manifests|blobs)\/(sha256:[0-9a-f]{64})$/.exec(path) ?? [];
      return (digest !== undefined && img.names.get(digest)) || `unexpected ${kind ?? ''} ${r.path}`;
    });
    return { answer, requests: named.sort() };
  } finally {
    storage.proxy.clearFaults();
    await e.close();
  }
}

const sorted = (list: string[]): string[] => [...list].sort();
const LISTING = ['referrers', 'fallback tag'];

function requestCounts(name: string, start: () => Promise<Storage>, skip?: string): void {
  describe(`registry requests per image: ${name}`, { skip }, () => {
    let storage: Storage;
    before(async () => {
      storage = await start();
    });
    after(async () => {
      await storage?.stop();
    });
    // Without the API's lifted annotations (the fallback tag as cosign writes it) each referrer
    // manifest is read for its claim; with them, only the wanted one.
    const manifests = (): string[] =>
      storage.api === 'none'
        ? ['manifest signature', 'manifest provenance', 'manifest sbom']
        : ['manifest provenance'];

    test('bundle referrers: the listing, the .att tag, the wanted manifest(s) and ONE blob', async () => {
      const img = await referrersImage(storage);
      const { answer, requests } = await reviewed(storage, policy([attesting()]), img);
      assert.equal(answer.allowed, true, answer.status?.message);
      assert.deepEqual(requests, sorted([...LISTING, '.att tag', ...manifests(), 'blob provenance']));
    });

    test('legacy .att: no .sig tag, and only the wanted layer downloaded', async () => {
      const img = await legacyImage(storage);
      const { answer, requests } = await reviewed(storage, policy([attesting()]), img);
      assert.equal(answer.allowed, true, answer.status?.message);
      const signatureManifest = storage.api === 'none' ? ['manifest signature'] : [];
      assert.deepEqual(
        requests,
        sorted([...LISTING, '.att tag', ...signatureManifest, '.att layer provenance']),
      );
    });

    // The signature path skips what claims an attestation type: by the API entry's lifted claim
    // before its manifest; through cosign's fallback tag (no claims) after its manifest, before its blob.
    const signatureManifests = (): string[] =>
      storage.api === 'none'
        ? ['manifest signature', 'manifest provenance', 'manifest sbom']
        : ['manifest signature'];

    test('a signing authority alone: the .sig tag and the signature bundle, no attestation blob', async () => {
      const img = await referrersImage(storage);
      for (const authority of [signing(), bundleSigning()]) {
        const { answer, requests } = await reviewed(storage, policy([authority]), img);
        assert.equal(answer.allowed, true, answer.status?.message);
        // No .att tag; before, every bundle's manifest and blob were read to learn its statement.
        assert.deepEqual(
          requests,
          sorted([...LISTING, '.sig tag', '.sig layer', ...signatureManifests(), 'blob signature']),
        );
      }
    });

    test('a signing and an attesting authority share ONE listing and each read', async () => {
      const img = await referrersImage(storage);
      const { answer, requests } = await reviewed(storage, policy([signing(), attesting()]), img);
      assert.equal(answer.allowed, true, answer.status?.message);
      // Each path reads what can hold what it looks for; the manifests they both read are read once.
      const manifestReads = [...new Set([...signatureManifests(), ...manifests()])];
      assert.deepEqual(
        requests,
        sorted([
          ...LISTING,
          '.sig tag',
          '.att tag',
          '.sig layer',
          ...manifestReads,
          'blob signature',
          'blob provenance',
        ]),
      );

      const legacy = await legacyImage(storage);
      const both = await reviewed(storage, policy([signing(), attesting()]), legacy);
      assert.equal(both.answer.allowed, true, both.answer.status?.message);
      assert.deepEqual(
        both.requests,
        sorted([
          ...LISTING,
          '.sig tag',
          '.att tag',
          '.sig layer',
          'manifest signature',
          'blob signature',
          '.att layer provenance',
        ]),
      );
    });
  });
}

requestCounts('fallback tag (docker-registry)', async () => behindProxy(await startDockerRegistry(), 'none'));
requestCounts('referrers API (played by the proxy over docker-registry)', async () =>
  behindProxy(await startDockerRegistry(), 'played'),
);
requestCounts(
  'referrers API (olareg)',
  async () => behindProxy(await startOlareg({ referrersApi: true }), 'real'),
  olaregSkipReason(),
);

describe('a claimed predicate type only ever skips', () => {
  let storage: Storage;
  before(async () => {
    storage = await behindProxy(await startDockerRegistry(), 'none');
  });
  after(async () => {
    await storage?.stop();
  });
  const provenanceOnly = () => policy([attesting()]);

  test('a provenance labelled as an SBOM is not downloaded: missing, naming the claim', async () => {
    const img = await signedImage(storage);
    await referrer(storage, img, 'provenance', provenanceStatement(img.digest, 'refs/heads/main'), SPDX);
    const { answer, requests } = await reviewed(storage, provenanceOnly(), img);
    assert.equal(answer.allowed, false);
    assert.match(
      answer.status?.message ?? '',
      /attestation provenance \(https:\/\/slsa\.dev\/provenance\/v1\): none found \(.*\); found only 1 of https:\/\/spdx\.dev\/Document; expected an attestation provenance signed by the public key of authority release-builder \[ATTESTATION_MISSING\]$/,
    );
    assert.ok(!requests.includes('blob provenance'), requests.join('\n'));
  });

  test('a signature labelled as an SBOM is not downloaded: hidden, SIGNATURE_MISSING naming the claim', async () => {
    const signed = await signedImage(storage, { legacy: false });
    const control = await reviewed(storage, policy([bundleSigning()]), signed);
    assert.equal(control.answer.allowed, true, control.answer.status?.message);

    const labelled = await signedImage(storage, { legacy: false, label: SPDX });
    const { answer, requests } = await reviewed(storage, policy([bundleSigning()]), labelled);
    assert.equal(answer.allowed, false);
    assert.match(
      answer.status?.message ?? '',
      /authority bundle-key: no signatures found \(.*\); 1 attestation\(s\) of other predicate types are not image signatures \(1 claimed by their referrer's dev\.sigstore\.bundle\.predicateType annotation, not downloaded\); expected a signature by the public key of authority bundle-key \[SIGNATURE_MISSING\]$/,
    );
    assert.ok(!requests.includes('blob signature'), requests.join('\n'));
  });

  test('a signature referrer without a claim is read as before, and admits', async () => {
    const img = await signedImage(storage, { legacy: false, label: null });
    const { answer, requests } = await reviewed(storage, policy([bundleSigning()]), img);
    assert.equal(answer.allowed, true, answer.status?.message);
    assert.deepEqual(requests, sorted([...LISTING, '.sig tag', 'manifest signature', 'blob signature']));
  });

  test('an SBOM labelled as provenance is downloaded and refused for what its statement says', async () => {
    const img = await signedImage(storage);
    await referrer(storage, img, 'sbom', statement(img.digest, SPDX, { spdxVersion: 'SPDX-2.3' }), SLSA_V1);
    const legacy = await signedImage(storage);
    const sbomLayer = envelopeLayer(builder, statement(legacy.digest, SPDX, {}), SLSA_V1);
    await pushLegacyAttestations(client, legacy.repo, legacy.digest, [sbomLayer]);
    for (const image of [img, legacy]) {
      const { answer } = await reviewed(storage, provenanceOnly(), image);
      assert.equal(answer.allowed, false);
      assert.match(
        answer.status?.message ?? '',
        /attestation provenance \(https:\/\/slsa\.dev\/provenance\/v1\): none found \(.*\); found only 1 of https:\/\/spdx\.dev\/Document; expected an attestation provenance signed by the public key of authority release-builder \[ATTESTATION_MISSING\]$/,
      );
    }
  });
});

describe('shared reads', () => {
  let storage: Storage;
  before(async () => {
    storage = await behindProxy(await startDockerRegistry(), 'none');
  });
  after(async () => {
    await storage?.stop();
  });

  test('a failed shared read is sent once and fails both checks as a registry error, never cached', async () => {
    const img = await referrersImage(storage);
    const fallbackTag = new RegExp(`/manifests/${referrersFallbackTag(img.digest)}$`);
    storage.proxy.addFault({
      path: fallbackTag,
      fault: {
        kind: 'status',
        status: 500,
        body: '{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}',
      },
      times: 1,
    });
    storage.proxy.clearRequests();
    const e = engineUnderTest([policy([signing(), attesting()])]);
    try {
      const failed = responseOf(await e.review(podReview([img.ref])));
      assert.equal(failed.allowed, false);
      assert.equal(storage.proxy.requests.filter((r) => fallbackTag.test(r.path)).length, 1);
      // The denial names the first authority; the counters say what each check concluded.
      assert.match(
        failed.status?.message ?? '',
        /authority release-key: registry failure while looking for its signatures, so whether it is signed is unknown: .*HTTP 500 .*\[REGISTRY_ERROR\]$/,
      );
      const errors = { policy: 'counted', result: 'error', reason: 'REGISTRY_ERROR' };
      assert.equal(await counterValue(e.metrics.verifications, { ...errors, authority: 'release-key' }), 1);
      assert.equal(
        await counterValue(e.metrics.attestationVerifications, { ...errors, authority: 'release-builder' }),
        1,
      );
      // Nothing of it was kept: the next review asks again, and the registry answers now.
      const again = responseOf(await e.review(podReview([img.ref])));
      assert.equal(again.allowed, true, again.status?.message);
    } finally {
      storage.proxy.clearFaults();
      await e.close();
    }
  });
});
