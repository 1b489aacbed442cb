// Real GitHub-built SLSA v1 provenance (the sigstore-js 2.0.0 release bundle in sigstore-go's test data,
// ../shared/ext), verified with the public-good root they were made against, then
// judged by policy CEL conditions over the real predicate and the real certificate's Fulcio extensions.
// Placed as an attestation of an IMAGE it must fail: its subject is an npm tarball, not that digest.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { RegistryClient } from '../../src/oci/client.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { attestationOutcome } from '../../src/policy/attestations.ts';
import type { FoundSigner } from '../../src/policy/evaluate.ts';
import { parseBundle } from '../../src/sigstore/bundle.ts';
import { loadTrustRoot } from '../../src/sigstore/trusted-root.ts';
import { verifyAttestations } from '../../src/sigstore/verify-attestations.ts';
import { verifyBundle } from '../../src/sigstore/verify.ts';
import { startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import { pushTestImage } from '../support/images.ts';
import { pushBundleReferrer } from './discover-fixtures.ts';
import { ext } from './ext.ts';

const publicGood = () =>
  loadTrustRoot(readFileSync(ext('sigstore-go/pkg/testing/data/trusted-roots/public-good.json')), 'go');
const V1 = ext('sigstore-go/pkg/testing/data/bundles/sigstore.js@2.0.0-provenance.sigstore.json');
const RELEASE = 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main';

function releasePolicy(predicateType: string, conditions: string[]) {
  const { policy, errors } = compilePolicy({
    apiVersion: 'policy.sigward.dev/v1alpha1',
    kind: 'ClusterImagePolicy',
    metadata: { name: 'sigstore-js-release' },
    spec: {
      images: ['**'],
      authorities: [
        {
          name: 'release',
          keyless: {
            identities: [{ issuer: 'https://token.actions.githubusercontent.com', subject: RELEASE }],
          },
          attestations: [
            { name: 'provenance', predicateType, ...(conditions.length === 0 ? {} : { conditions }) },
          ],
        },
      ],
    },
  });
  assert.deepEqual(errors, []);
  const authority = policy.authorities[0];
  assert.ok(authority?.kind === 'keyless');
  return authority;
}

/** Verifies a real provenance bundle about its own subject, as sigstore/ would for a matching image. */
function verified(path: string, predicateType: string) {
  const json = JSON.parse(readFileSync(path, 'utf8')) as { dsseEnvelope: { payload: string } };
  const subject = (
    JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString()) as {
      subject: { digest: { sha512: string } }[];
    }
  ).subject[0]!;
  const result = verifyBundle({
    bundle: parseBundle(json),
    trust: publicGood().material,
    signer: { kind: 'keyless' },
    content: { kind: 'artifact', digest: `sha512:${subject.digest.sha512}`, predicateType },
  });
  assert.ok(result.identity.kind === 'certificate' && result.statement !== undefined);
  return { identity: result.identity, statement: result.statement };
}

function judge(authority: ReturnType<typeof releasePolicy>, path: string, predicateType: string) {
  const { identity, statement } = verified(path, predicateType);
  return attestationOutcome(
    authority,
    {
      status: 'checked',
      code: 'CHECKED',
      message: '',
      digest: '',
      attestations: [
        {
          predicateType,
          outcome: {
            verified: true,
            authorities: authority.match(identity).matched ? ['release'] : [],
            signer: { ...identity, kind: 'certificate' },
            statement,
          },
        },
      ],
      otherTypes: {},
      lookedIn: 'test',
      truncated: false,
    },
    new Date('2026-12-06T00:00:00Z'),
  );
}

test('real SLSA v1 provenance: built from main by the release workflow, per predicate and certificate', () => {
  const ok = releasePolicy('slsaprovenance1', [
    'predicate.buildDefinition.externalParameters.workflow.ref == "refs/heads/main"',
    'predicate.buildDefinition.externalParameters.workflow.repository == "https://github.com/sigstore/sigstore-js"',
    'predicate.runDetails.builder.id.startsWith("https://github.com/actions/runner")',
    'signer.extensions.sourceRepositoryURI == "https://github.com/sigstore/sigstore-js" && signer.extensions.sourceRepositoryRef == "refs/heads/main"',
    'subject.exists(s, s.name == "pkg:npm/sigstore@2.0.0")',
  ]);
  const passed = judge(ok, V1, 'https://slsa.dev/provenance/v1');
  assert.equal(passed.verified, true, passed.message);

  const tag = releasePolicy('slsaprovenance1', [
    'predicate.buildDefinition.externalParameters.workflow.ref.startsWith("refs/tags/")',
  ]);
  const refused = judge(tag, V1, 'https://slsa.dev/provenance/v1');
  assert.equal(refused.verified, false);
  assert.equal(refused.code, 'ATTESTATION_CONDITION_FAILED');
  assert.equal(
    refused.message,
    'attestation provenance (https://slsa.dev/provenance/v1): condition[0] `predicate.buildDefinition.externalParameters.workflow.ref.startsWith("refs/tags/")` is false; it saw predicate.buildDefinition.externalParameters.workflow.ref = "refs/heads/main"',
  );
});

let registry: DockerRegistry;
let client: RegistryClient;
before(async () => {
  registry = await startDockerRegistry();
  client = new RegistryClient();
});
after(async () => {
  await client?.close();
  await registry?.stop();
});

test('real provenance placed on an image it is not about: its subject must name the admitted digest', async () => {
  const repo = { registry: registry.host, repository: 'att/npm-provenance' };
  const image = await pushTestImage(client, repo, { tag: 'v1' });
  await pushBundleReferrer(client, repo, image.digest, readFileSync(V1), {
    predicateType: 'https://slsa.dev/provenance/v1',
  });
  const authority = releasePolicy('slsaprovenance1', []);
  const verdict = await verifyAttestations({
    client,
    image: { repository: repo, digest: image.digest },
    authorities: [{ kind: 'keyless', name: 'release', match: authority.match }],
    trust: publicGood().material,
    predicateTypes: ['https://slsa.dev/provenance/v1'],
  });
  assert.equal(verdict.status, 'checked');
  assert.equal(verdict.attestations.length, 1);
  const outcome = verdict.attestations[0]?.outcome;
  assert.ok(outcome !== undefined && !outcome.verified);
  assert.equal(outcome.code, 'SIGSTORE_CONTENT_MISMATCH');
  assert.match(
    outcome.reason,
    new RegExp(
      `^the statement is about something else: expected subject ${image.digest}, found sha512:46d4e2f7`,
    ),
  );
  const judged = attestationOutcome(authority, verdict, new Date());
  assert.equal(judged.verified, false);
  assert.match(
    judged.message,
    /^attestation provenance \(https:\/\/slsa\.dev\/provenance\/v1\): none of 1 is accepted: the statement is about something else/,
  );
});

test('a passing requirement names the signer of the attestation whose conditions held, not the first verified', () => {
  const authority = releasePolicy('slsaprovenance1', [
    'predicate.buildDefinition.externalParameters.workflow.ref == "refs/heads/main"',
  ]);
  const { identity, statement } = verified(V1, 'https://slsa.dev/provenance/v1');
  const predicate = statement.predicate as {
    buildDefinition: { externalParameters: { workflow: Record<string, unknown> } };
  };
  const fromBranch = {
    ...statement,
    predicate: {
      ...predicate,
      buildDefinition: {
        ...predicate.buildDefinition,
        externalParameters: {
          ...predicate.buildDefinition.externalParameters,
          workflow: { ...predicate.buildDefinition.externalParameters.workflow, ref: 'refs/heads/dev' },
        },
      },
    },
  };
  const other: FoundSigner = {
    ...identity,
    kind: 'certificate',
    subject: `${RELEASE.split('@')[0]}@refs/heads/dev`,
  };
  const attestation = (signer: FoundSigner, s: typeof statement) => ({
    predicateType: 'https://slsa.dev/provenance/v1',
    outcome: { verified: true as const, authorities: ['release'], signer, statement: s },
  });
  const judged = attestationOutcome(
    authority,
    {
      status: 'checked',
      code: 'CHECKED',
      message: '',
      digest: '',
      attestations: [
        attestation(other, fromBranch),
        attestation({ ...identity, kind: 'certificate' }, statement),
      ],
      otherTypes: {},
      lookedIn: 'test',
      truncated: false,
    },
    new Date('2026-12-06T00:00:00Z'),
  );
  assert.equal(judged.verified, true, judged.message);
  const satisfiedBy = judged.attestations[0]?.satisfiedBy;
  assert.ok(satisfiedBy?.kind === 'certificate');
  assert.equal(satisfiedBy.subject, RELEASE);
});
