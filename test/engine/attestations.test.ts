// Attestation policies through the engine over a real registry (Debian's docker-registry: referrers
// fallback tag, legacy .att tag): a SLSA v1 provenance attested with a key made here, in both storages,
// admitted when the CEL condition holds, denied naming the attestation and the values the condition
// saw when it does not, denied when missing, signed by another key, about another digest or not an
// in-toto statement; the real public-good `cosign attest` bundle (keyless) admitted for its signer and
// denied for another identity; verdicts cached per attestation set.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RegistryClient } from '../../src/oci/client.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import { counterValue } from '../../src/telemetry/metrics.ts';
import { startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import { pushTestImage } from '../support/images.ts';
import {
  cosignAttestation,
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
  pushAttestationReferrer,
  pushLegacyAttestations,
  pushProvenanceReferrer,
  slsaProvenance,
  statement,
} from '../sigstore/attestation-fixtures.ts';
import type { AttestationSigner } from '../sigstore/attestation-fixtures.ts';
import { clusterPolicy, engineUnderTest, pemOf, podReview, responseOf } from './harness.ts';

let registry: DockerRegistry;
let client: RegistryClient;
let host: string;
let builder: AttestationSigner;
let stranger: AttestationSigner;
let counter = 0;

before(async () => {
  registry = await startDockerRegistry();
  host = registry.host;
  client = new RegistryClient();
  builder = attestationSigner();
  stranger = attestationSigner();
});
after(async () => {
  await client?.close();
  await registry?.stop();
});

/** A new image in its own repository: `host/att/<n>@digest`. */
async function newImage(): Promise<{ repo: RepositoryName; digest: string; ref: string }> {
  const repo = { registry: host, repository: `att/app${++counter}` };
  const image = await pushTestImage(client, repo, { tag: 'v1' });
  return { repo, digest: image.digest, ref: `${host}/${repo.repository}@${image.digest}` };
}

function provenancePolicy(
  signer: AttestationSigner,
  conditions: string[] = [MAIN],
  predicateType = 'slsaprovenance1',
) {
  return clusterPolicy(
    'require-provenance',
    ['127.0.0.1:*/att/**'],
    [
      {
        name: 'release-builder',
        key: { data: signer.pem },
        insecureIgnoreTlog: true,
        attestations: [{ name: 'provenance', predicateType, conditions }],
      },
    ],
  );
}

async function decide(policies: unknown[], image: string) {
  const e = engineUnderTest(policies);
  try {
    return responseOf(await e.review(podReview([image])));
  } finally {
    await e.close();
  }
}

describe('legacy .att tag (cosign v2, or v3 with --new-bundle-format=false)', () => {
  test('admitted when the condition holds; denied naming the condition and the ref it saw when not', async () => {
    const main = await newImage();
    await pushLegacyAttestations(client, main.repo, main.digest, [
      envelopeLayer(builder, provenanceStatement(main.digest, 'refs/heads/main')),
    ]);
    assert.equal((await decide([provenancePolicy(builder)], main.ref)).allowed, true);

    const dev = await newImage();
    await pushLegacyAttestations(client, dev.repo, dev.digest, [
      envelopeLayer(builder, provenanceStatement(dev.digest, 'refs/heads/dev')),
    ]);
    const denied = await decide([provenancePolicy(builder)], dev.ref);
    assert.equal(denied.allowed, false);
    assert.equal(
      denied.status?.message,
      `image ${dev.ref} in spec.containers[0].image: policy require-provenance, authority release-builder: ` +
        `attestation provenance (https://slsa.dev/provenance/v1): condition[0] \`${MAIN}\` is false; ` +
        `it saw predicate.buildDefinition.externalParameters.workflow.ref = "refs/heads/dev" [ATTESTATION_CONDITION_FAILED]`,
    );
  });

  test('denied when attested by another key, and when the statement is about another digest', async () => {
    const img = await newImage();
    await pushLegacyAttestations(client, img.repo, img.digest, [
      envelopeLayer(stranger, provenanceStatement(img.digest, 'refs/heads/main')),
    ]);
    const byStranger = await decide([provenancePolicy(builder)], img.ref);
    assert.equal(byStranger.allowed, false);
    assert.match(
      byStranger.status?.message ?? '',
      /authority release-builder: attestation provenance \(https:\/\/slsa\.dev\/provenance\/v1\): none of 1 is accepted: .*\[SIGNATURE_INVALID\]$/,
    );

    const other = await newImage();
    await pushLegacyAttestations(client, other.repo, other.digest, [
      envelopeLayer(builder, provenanceStatement('sha256:' + 'b'.repeat(64), 'refs/heads/main')),
    ]);
    const misplaced = await decide([provenancePolicy(builder)], other.ref);
    assert.equal(misplaced.allowed, false);
    assert.match(
      misplaced.status?.message ?? '',
      new RegExp(
        `none of 1 is accepted: the statement is about something else: expected subject ${other.digest}, found sha256:b{64} \\[SIGNATURE_INVALID\\]$`,
      ),
    );
  });

  test('a DSSE envelope that is not an in-toto statement, or not JSON, never passes', async () => {
    const img = await newImage();
    const payload = provenanceStatement(img.digest, 'refs/heads/main');
    await pushLegacyAttestations(client, img.repo, img.digest, [
      { blob: Buffer.from(JSON.stringify(builder.envelope(payload, 'text/plain'))), predicateType: SLSA_V1 },
      {
        blob: Buffer.from(JSON.stringify(builder.envelope(Buffer.from('not json')))),
        predicateType: SLSA_V1,
      },
      { blob: Buffer.from('{"payload": 1'), predicateType: SLSA_V1 },
    ]);
    const denied = await decide([provenancePolicy(builder)], img.ref);
    assert.equal(denied.allowed, false);
    assert.match(
      denied.status?.message ?? '',
      /attestation provenance \(https:\/\/slsa\.dev\/provenance\/v1\): none of 3 is accepted: /,
    );
    assert.match(denied.status?.message ?? '', /not an in-toto statement|not JSON|not DSSE envelope JSON/);
  });
});

describe('Sigstore bundle referrer (cosign v3 attest), fallback tag', () => {
  test('admitted when the condition holds; denied when missing, naming what was found instead', async () => {
    const img = await newImage();
    await pushProvenanceReferrer(client, img.repo, img.digest, builder, 'refs/heads/main');
    const e = engineUnderTest([provenancePolicy(builder)]);
    try {
      assert.equal(responseOf(await e.review(podReview([img.ref]))).allowed, true);
      // The second review is a cache hit: no second verification.
      const misses = await counterValue(e.metrics.cache, { cache: 'attestation', result: 'miss' });
      assert.equal(responseOf(await e.review(podReview([img.ref]))).allowed, true);
      assert.equal(await counterValue(e.metrics.cache, { cache: 'attestation', result: 'miss' }), misses);
      assert.equal(await counterValue(e.metrics.cache, { cache: 'attestation', result: 'hit' }), 1);
      // Attestation outcomes are counted as such, never as signature verdicts.
      assert.equal(await counterValue(e.metrics.cache, { cache: 'verdict' }), 0);
      // Counted per attestation, once per verification actually run.
      assert.equal(
        await counterValue(e.metrics.attestationVerifications, {
          policy: 'require-provenance',
          authority: 'release-builder',
          attestation: 'provenance',
          result: 'verified',
          reason: 'VERIFIED',
        }),
        1,
      );
    } finally {
      await e.close();
    }

    const sbomOnly = await newImage();
    const sbom = statement(sbomOnly.digest, 'https://spdx.dev/Document', { spdxVersion: 'SPDX-2.3' });
    await pushAttestationReferrer(
      client,
      sbomOnly.repo,
      sbomOnly.digest,
      builder.bundle(sbom),
      'https://spdx.dev/Document',
    );
    const missing = await decide([provenancePolicy(builder)], sbomOnly.ref);
    assert.equal(missing.allowed, false);
    assert.match(
      missing.status?.message ?? '',
      /attestation provenance \(https:\/\/slsa\.dev\/provenance\/v1\): none found \(looked in the referrers fallback tag \(the registry has no referrers API\) and the legacy \.att tag, in 127\.0\.0\.1:\d+\/att\/app\d+\); found only 1 of https:\/\/spdx\.dev\/Document; expected an attestation provenance signed by the public key of authority [\w-]+ \[ATTESTATION_MISSING\]$/,
    );
  });

  test('the policy decides per attestation set: one authority, two required attestations', async () => {
    const img = await newImage();
    await pushProvenanceReferrer(client, img.repo, img.digest, builder, 'refs/heads/main');
    const vuln = 'https://cosign.sigstore.dev/attestation/vuln/v1';
    const policy = clusterPolicy(
      'provenance-and-scan',
      ['127.0.0.1:*/att/**'],
      [
        {
          name: 'release-builder',
          key: { data: builder.pem },
          insecureIgnoreTlog: true,
          attestations: [
            { name: 'provenance', predicateType: 'slsaprovenance1', conditions: [MAIN] },
            {
              name: 'scan',
              predicateType: 'vuln',
              conditions: ['predicate.scanner.result.summary.CRITICAL == 0.0'],
            },
          ],
        },
      ],
    );
    const noScan = await decide([policy], img.ref);
    assert.match(
      noScan.status?.message ?? '',
      /attestation scan \(https:\/\/cosign\.sigstore\.dev\/attestation\/vuln\/v1\): none found .* \[ATTESTATION_MISSING\]$/,
    );
    await pushAttestationReferrer(
      client,
      img.repo,
      img.digest,
      builder.bundle(statement(img.digest, vuln, { scanner: { result: { summary: { CRITICAL: 2 } } } })),
      vuln,
    );
    const critical = await decide([policy], img.ref);
    assert.match(
      critical.status?.message ?? '',
      /attestation scan .*: condition\[0\] `predicate\.scanner\.result\.summary\.CRITICAL == 0\.0` is false; it saw predicate\.scanner\.result\.summary\.CRITICAL = 2 \[ATTESTATION_CONDITION_FAILED\]$/,
    );
  });
});

describe('the real public-good cosign attest bundle (keyless)', () => {
  const repo = () => ({ registry: host, repository: 'att/cosign-empty-image' });
  const image = () => `${host}/att/cosign-empty-image@${cosignAttestation.digest}`;
  const policy = (subject: string) =>
    clusterPolicy(
      'custom-attestation',
      ['127.0.0.1:*/att/**'],
      [
        {
          name: 'cody',
          keyless: { identities: [{ issuer: 'https://github.com/login/oauth', subject }] },
          attestations: [
            { name: 'custom', predicateType: 'custom', conditions: ['predicate.Data.contains("foo")'] },
          ],
        },
      ],
    );

  before(async () => {
    await pushBundleReferrer(client, repo(), cosignAttestation.digest, cosignAttestation.bundle(), {
      predicateType: cosignAttestation.predicateType,
    });
  });

  test('admitted for its signer, with the condition on its predicate', async () => {
    assert.equal((await decide([policy('cody@soyland.com')], image())).allowed, true);
  });

  test('denied for another identity, saying who signed the attestation', async () => {
    const denied = await decide([policy('someone@example.com')], image());
    assert.equal(denied.allowed, false);
    assert.match(
      denied.status?.message ?? '',
      /authority cody: expected attestation custom signed by subject "someone@example\.com" from issuer "https:\/\/github\.com\/login\/oauth", found subject "cody@soyland\.com" from issuer "https:\/\/github\.com\/login\/oauth" \[IDENTITY_MISMATCH\]$/,
    );
  });

  test('an image signature alone does not satisfy an attestation authority', async () => {
    const img = await newImage();
    const denied = await decide([policy('cody@soyland.com')], img.ref);
    assert.match(
      denied.status?.message ?? '',
      /attestation custom \(https:\/\/cosign\.sigstore\.dev\/attestation\/v1\): none found/,
    );
  });
});

describe('caching and failures', () => {
  async function attestedMain() {
    const img = await newImage();
    await pushProvenanceReferrer(client, img.repo, img.digest, builder, 'refs/heads/main');
    return img;
  }
  const misses = (e: ReturnType<typeof engineUnderTest>) =>
    counterValue(e.metrics.cache, { cache: 'attestation', result: 'miss' });

  test('cached outcomes answer at once (no slow path: no pull-secret read), alone or beside a signature, in the same words', async () => {
    const signer = testSigner();
    const main = await attestedMain();
    await pushLegacySignature(client, main.repo, main.digest, [
      signer.layerFor(main.digest, `${host}/${main.repo.repository}`),
    ]);
    const dev = await newImage();
    await pushProvenanceReferrer(client, dev.repo, dev.digest, builder, 'refs/heads/dev');
    const signedAndAttested = clusterPolicy(
      'signed-and-attested',
      ['127.0.0.1:*/att/**'],
      [
        { name: 'release-key', key: { data: pemOf(signer.publicKey) }, insecureIgnoreTlog: true },
        provenancePolicy(builder).spec.authorities[0]!,
      ],
      { threshold: 2 },
    );
    for (const [policy, image, allowed, verdicts] of [
      [provenancePolicy(builder), main.ref, true, 0],
      [provenancePolicy(builder), dev.ref, false, 0], // a definite refusal: cached too
      [signedAndAttested, main.ref, true, 1],
    ] as const) {
      // The workload's pull secrets (kube/ reads them) are read only on the slow path: counted here.
      let secretReads = 0;
      const credentials = {
        keychainFor: () => {
          secretReads++;
          return Promise.resolve({ credentialsFor: () => [] });
        },
      };
      const e = engineUnderTest([policy], {}, {}, undefined, { credentials });
      try {
        const first = responseOf(await e.review(podReview([image])));
        assert.equal(first.allowed, allowed, first.status?.message);
        assert.equal(secretReads, 1);
        const second = responseOf(await e.review(podReview([image])));
        assert.deepEqual({ ...second, uid: '' }, { ...first, uid: '' });
        assert.equal(secretReads, 1, 'the second review never took the slow path');
        assert.equal(await counterValue(e.metrics.cache, { cache: 'attestation', result: 'hit' }), 1);
        assert.equal(await counterValue(e.metrics.cache, { cache: 'verdict', result: 'hit' }), verdicts);
      } finally {
        await e.close();
      }
    }
  });

  test('attestation outcomes have their own budget (--attestation-cache-entries): a signature verdict never evicts one, another outcome does', async () => {
    const attested = await attestedMain();
    const other = await attestedMain();
    const signer = testSigner();
    // Outside att/**, which the provenance policy covers.
    const repo = { registry: host, repository: `sig/app${++counter}` };
    const image = await pushTestImage(client, repo, { tag: 'v1' });
    const signed = { repo, digest: image.digest, ref: `${host}/${repo.repository}@${image.digest}` };
    await pushLegacySignature(client, signed.repo, signed.digest, [
      signer.layerFor(signed.digest, `${host}/${signed.repo.repository}`),
    ]);
    const signatures = clusterPolicy(
      'signed-by-ci',
      [`127.0.0.1:*/${signed.repo.repository}`],
      [{ name: 'ci-key', key: { data: pemOf(signer.publicKey) }, insecureIgnoreTlog: true }],
    );
    const e = engineUnderTest([provenancePolicy(builder), signatures], {
      cache: { maxVerdicts: 1, maxAttestations: 1 },
    });
    try {
      assert.equal(responseOf(await e.review(podReview([attested.ref]))).allowed, true);
      const first = await misses(e);
      // A signature verdict fills the one verdict entry: the attestation outcome is still held.
      assert.equal(responseOf(await e.review(podReview([signed.ref]))).allowed, true);
      assert.equal(responseOf(await e.review(podReview([attested.ref]))).allowed, true);
      assert.equal(await misses(e), first, 'the attestation outcome survived a signature verdict');
      // Another image's outcome takes the one attestation entry: the first is checked again.
      assert.equal(responseOf(await e.review(podReview([other.ref]))).allowed, true);
      assert.equal(responseOf(await e.review(podReview([attested.ref]))).allowed, true);
      assert.equal(await misses(e), first + 2);
    } finally {
      await e.close();
    }
  });

  test('a condition that reads now is cached no longer than a refusal (here: not at all)', async () => {
    const img = await attestedMain();
    const fresh = 'now - timestamp(predicate.runDetails.metadata.finishedOn) < duration("876000h")';
    for (const [conditions, cachedAgain] of [
      [[MAIN], true],
      [[MAIN, fresh], false],
    ] as const) {
      const e = engineUnderTest([provenancePolicy(builder, [...conditions])], {
        cache: { negativeTtlMs: 0 },
      });
      try {
        assert.equal(responseOf(await e.review(podReview([img.ref]))).allowed, true);
        const before = await misses(e);
        assert.equal(responseOf(await e.review(podReview([img.ref]))).allowed, true);
        assert.equal((await misses(e)) === before, cachedAgain, conditions.join(' && '));
      } finally {
        await e.close();
      }
    }
  });

  test('a registry failure is an error naming it, never cached, never "missing"', async () => {
    const img = await attestedMain();
    const policy = provenancePolicy(builder);
    const unreachable = {
      ...policy,
      spec: { ...policy.spec, signatureRepository: { repository: '127.0.0.1:9/attestations' } },
    };
    const e = engineUnderTest([unreachable]);
    try {
      const first = responseOf(await e.review(podReview([img.ref])));
      assert.equal(first.allowed, false);
      assert.match(
        first.status?.message ?? '',
        /authority release-builder: registry failure while looking for its attestations, so whether it has them is unknown: .* \[REGISTRY_ERROR\]$/,
      );
      const before = await misses(e);
      await e.review(podReview([img.ref]));
      assert.equal(await misses(e), before + 1);
    } finally {
      await e.close();
    }
  });

  test('an attestation over the 4 MiB cap is not fetched, and the denial says so', async () => {
    const img = await newImage();
    const huge = slsaProvenance('refs/heads/main');
    (huge as { padding?: string }).padding = 'x'.repeat(4 * 1024 * 1024);
    await pushLegacyAttestations(client, img.repo, img.digest, [
      envelopeLayer(builder, statement(img.digest, SLSA_V1, huge)),
    ]);
    const denied = await decide([provenancePolicy(builder)], img.ref);
    assert.equal(denied.allowed, false);
    assert.match(
      denied.status?.message ?? '',
      /attestation provenance \(https:\/\/slsa\.dev\/provenance\/v1\): none of 1 is accepted: signature layer sha256:[0-9a-f]{64} declares \d+ bytes, over the 4194304-byte cap \[SIGNATURE_INVALID\]$/,
    );
  });
});

describe('attestation and signature authorities in one policy', () => {
  test('threshold 2 counts a signing authority and an attesting one; a missing attestation is named', async () => {
    const signer = testSigner();
    const img = await newImage();
    await pushLegacySignature(client, img.repo, img.digest, [
      signer.layerFor(img.digest, `${host}/${img.repo.repository}`),
    ]);
    const policy = clusterPolicy(
      'signed-and-attested',
      ['127.0.0.1:*/att/**'],
      [
        { name: 'release-key', key: { data: pemOf(signer.publicKey) }, insecureIgnoreTlog: true },
        {
          name: 'release-builder',
          key: { data: builder.pem },
          insecureIgnoreTlog: true,
          attestations: [{ name: 'provenance', predicateType: 'slsaprovenance1', conditions: [MAIN] }],
        },
      ],
      { threshold: 2 },
    );
    const short = await decide([policy], img.ref);
    assert.equal(short.allowed, false);
    assert.match(
      short.status?.message ?? '',
      /policy signed-and-attested: 1 of 2 required distinct authorities verified \(passed: release-key\); release-builder: attestation provenance \(https:\/\/slsa\.dev\/provenance\/v1\): none found .* \[THRESHOLD_NOT_MET\]$/,
    );
    await pushProvenanceReferrer(client, img.repo, img.digest, builder, 'refs/heads/main');
    assert.equal((await decide([policy], img.ref)).allowed, true);
  });
});

test('many big attestations: one image takes at most 16 MiB of attestation blobs, the rest is not fetched', async () => {
  const img = await newImage();
  const big = slsaProvenance('refs/heads/dev');
  (big as { padding?: string }).padding = 'x'.repeat(2.5 * 1024 * 1024);
  const blob = Buffer.from(JSON.stringify(builder.envelope(statement(img.digest, SLSA_V1, big))));
  // Six ~3.4 MiB (base64) layers of one .att manifest: the budget stops before the last ones.
  await pushLegacyAttestations(
    client,
    img.repo,
    img.digest,
    Array.from({ length: 6 }, (_, i) => ({
      blob: Buffer.concat([blob, Buffer.from(' '.repeat(i))]),
      predicateType: SLSA_V1,
    })),
  );
  const denied = await decide([provenancePolicy(builder)], img.ref);
  assert.equal(denied.allowed, false);
  // The decisive failure is the condition on one that was read; the ones past the budget were not fetched.
  assert.match(
    denied.status?.message ?? '',
    /\(on each of 4 accepted attestations; the first\): condition\[0\] .* \[ATTESTATION_CONDITION_FAILED\]$/,
  );
});
