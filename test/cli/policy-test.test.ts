// `sigward policy test` as CI runs it: the real `bin/sigward` process, the webhook's engine, a real
// registry (Debian's docker-registry) holding real signatures (the public-good keyless bundle cosign v3
// made for kubewarden-controller, verified against the prod trusted root from ../shared/ext; an image
// made here signed with a key made here). Each outcome is checked by its exit code, decision, reason
// code and the denial text a developer would read from kubectl.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import {
  engineUnderTest,
  podReview,
  pushFixtures,
  responseOf,
  type Fixtures,
  pemOf,
} from '../engine/harness.ts';
import { kubewarden } from '../sigstore/discover-fixtures.ts';
import { PROD_ROOT_PATH, REPO_ROOT } from '../sigstore/ext.ts';

let registry: DockerRegistry;
let fixtures: Fixtures;
let dir: string;
let host: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function sigward(args: readonly string[], cwd = REPO_ROOT): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      join(REPO_ROOT, 'bin/sigward'),
      [...args],
      { cwd, env: { ...process.env, HOME: dir, DOCKER_CONFIG: join(dir, 'docker') } },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : stringify(content));
  return path;
}

const API = 'policy.sigward.dev/v1alpha1';
const releasePolicy = (subject = kubewarden.subject) => ({
  apiVersion: API,
  kind: 'ClusterImagePolicy',
  metadata: { name: 'kubewarden-releases' },
  spec: {
    images: [`${host}/signed/**`],
    authorities: [
      { name: 'release-workflow', keyless: { identities: [{ issuer: kubewarden.issuer, subject }] } },
    ],
  },
});
const common = ['--trusted-root', PROD_ROOT_PATH, '--cloud-credentials', 'none'];
/** `sigward policy test` with the prod trusted root and no cloud credentials, then these arguments. */
const policyTest = (...args: string[]): Promise<Run> => sigward(['policy', 'test', ...common, ...args]);

before(async () => {
  registry = await startDockerRegistry();
  host = registry.host;
  fixtures = await pushFixtures(host);
  dir = mkdtempSync(join(tmpdir(), 'sigward-policy-test-'));
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await registry?.stop();
});

describe('ad hoc: --policy with --image / --resource / --review', () => {
  test('a signed image by the right identity: ALLOW, exit 0', async () => {
    const policy = file('release.yaml', releasePolicy());
    const r = await policyTest('-p', policy, '--image', fixtures.keylessImage(host));
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^ALLOW image .*signed\/kubewarden@sha256:c811d58d/m);
    assert.match(r.stdout, /ok {3}policy kubewarden-releases: VERIFIED/);
  });

  test('signed by someone else: DENY with the exact denial text and reason code, exit 1', async () => {
    const policy = file(
      'other.yaml',
      releasePolicy(
        'https://github.com/kubewarden/kubewarden-controller/.github/workflows/other.yml@refs/heads/main',
      ),
    );
    const r = await policyTest('-p', policy, '--image', fixtures.keylessImage(host));
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, /^DENY {2}image /m);
    assert.match(
      r.stdout,
      /FAIL image .*signed\/kubewarden@sha256:c811d58d.* in spec\.containers\[0\]\.image: policy kubewarden-releases, authority release-workflow: expected subject ".*other\.yml@refs\/heads\/main" from issuer "https:\/\/token\.actions\.githubusercontent\.com", found subject ".*release\.yml@refs\/tags\/v1\.34\.0" .*\[IDENTITY_MISMATCH\]/,
    );
  });

  test('--output json: one document with the decision, reason codes and digest per image', async () => {
    const policy = file('release.yaml', releasePolicy());
    const r = await policyTest(
      '--output',
      'json',
      '-p',
      policy,
      '--image',
      fixtures.keylessImage(host),
      '--image',
      fixtures.unsigned.tagged(host),
    );
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as {
      failed: boolean;
      runs: {
        cases: {
          outcomes: {
            input: string;
            decision: string;
            images: { digest?: string; results: { reason: string; policy?: string }[] }[];
          }[];
        }[];
      }[];
    };
    assert.equal(out.failed, true);
    const [signed, unsigned] = out.runs[0]!.cases.map((c) => c.outcomes[0]!);
    assert.equal(signed?.decision, 'allow');
    assert.equal(signed?.images[0]?.results[0]?.reason, 'VERIFIED');
    // The unsigned image matches no policy: the webhook's default (--no-match-action deny) decides.
    assert.equal(unsigned?.decision, 'deny');
    assert.equal(unsigned?.images[0]?.results[0]?.reason, 'NO_POLICY');
    assert.equal(signed?.images[0]?.digest, kubewarden.digest);
  });

  test("the denial is, byte for byte, the webhook engine's answer to the same review", async () => {
    const resource = releasePolicy(
      'https://github.com/kubewarden/kubewarden-controller/.github/workflows/other.yml@refs/heads/main',
    );
    const policy = file('other-identity.yaml', resource);
    const image = fixtures.keylessImage(host);
    const r = await policyTest('--output', 'json', '-p', policy, '--image', image);
    const cli = JSON.parse(r.stdout) as { runs: { cases: { outcomes: { message?: string }[] }[] }[] };
    const webhook = engineUnderTest([resource]);
    try {
      const answer = responseOf(await webhook.review(podReview([image], { namespace: 'default' })));
      assert.equal(answer.allowed, false);
      assert.equal(cli.runs[0]?.cases[0]?.outcomes[0]?.message, answer.status?.message);
    } finally {
      await webhook.close();
    }
  });

  test('a Deployment manifest and an AdmissionReview are judged like the webhook judges them', async () => {
    const policy = file('release.yaml', releasePolicy());
    const deployment = file(
      'deploy.yaml',
      [
        stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'web', namespace: 'shop' },
          spec: {
            template: {
              spec: {
                containers: [{ name: 'web', image: fixtures.keylessImage(host) }],
                initContainers: [{ name: 'init', image: `${host}/signed/unsigned:1` }],
              },
            },
          },
        }),
        stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' } }),
      ].join('---\n'),
    );
    const review = file('review.json', JSON.stringify(podReview(['nginx'], { namespace: 'kube-system' })));
    const r = await policyTest('-p', policy, '--resource', deployment, '--review', review);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, /^DENY {2}Deployment shop\/web \(.*deploy\.yaml\)$/m);
    assert.match(r.stdout, /spec\.template\.spec\.initContainers\[0\]\.image: .*signed\/unsigned:1: deny/);
    assert.match(r.stdout, /spec\.template\.spec\.containers\[0\]\.image: .*: allow/);
    assert.match(r.stdout, /^NOT-CHECKED Service default\/web/m);
    assert.match(r.stdout, /^SKIP {2}AdmissionReview Pod kube-system\/web/m);
  });

  test('a TrustRoot among the policy files is the trust: no --trusted-root, no TUF fetch, no warning', async () => {
    const policies = mkdtempSync(join(dir, 'inline-root-'));
    const policy = releasePolicy();
    (policy.spec.authorities[0] as Record<string, unknown>)['trustRootRef'] = 'prod';
    writeFileSync(
      join(policies, 'policies.yaml'),
      [
        stringify({
          apiVersion: API,
          kind: 'TrustRoot',
          metadata: { name: 'prod' },
          spec: { trustedRoot: readFileSync(PROD_ROOT_PATH, 'utf8') },
        }),
        stringify(policy),
      ].join('---\n'),
    );
    const r = await sigward([
      'policy',
      'test',
      '--cloud-credentials',
      'none',
      '-p',
      policies,
      '--image',
      fixtures.keylessImage(host),
    ]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /ok {3}policy kubewarden-releases: VERIFIED/);
  });

  test('usage errors and unreadable input exit 2', async () => {
    const none = await policyTest('--image', 'x');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give --policy/);
    const clusterWithout = await policyTest('--cluster');
    assert.equal(clusterWithout.code, 2);
    assert.match(clusterWithout.stderr, /--cluster needs the policies to preview/);
    const kubeconfigAlone = await sigward(['policy', 'test', '--kubeconfig', 'k', '-p', 'p', '--image', 'x']);
    assert.equal(kubeconfigAlone.code, 2);
    assert.match(kubeconfigAlone.stderr, /--kubeconfig and --webhook-namespace go with --cluster/);
    const missing = await policyTest('-p', join(dir, 'nope.yaml'), '--image', 'x');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.yaml/);
  });

  test('a policy that does not compile: printed with its field path, exit 2 (its images fail closed)', async () => {
    const bad = releasePolicy();
    (bad.spec.authorities[0]!.keyless.identities[0] as Record<string, string>)['subjectRegExp'] = '(';
    const policy = file('bad.yaml', bad);
    const r = await policyTest('-p', policy, '--image', fixtures.keylessImage(host));
    assert.equal(r.code, 2, r.stdout);
    assert.match(
      r.stdout,
      /^INVALID ClusterImagePolicy\/kubewarden-releases: spec\.authorities\[0\]\.keyless\.identities\[0\]/m,
    );
    assert.match(r.stdout, /\[POLICY_INVALID\]/);
  });
});

describe('policy-controller ClusterImagePolicies, as-is, through the same engine', () => {
  test('keyless identity and key.data with ctlog: {} admit what they should and deny the rest', async () => {
    // A directory of policies, as `-p DIR` and `sigward webhook --policies DIR` read them.
    const policies = mkdtempSync(join(dir, 'pc-policies-'));
    writeFileSync(
      join(policies, 'pc.yaml'),
      [
        stringify({
          apiVersion: 'policy.sigstore.dev/v1beta1',
          kind: 'ClusterImagePolicy',
          metadata: { name: 'kubewarden' },
          spec: {
            images: [{ glob: `${host}/signed/**` }],
            authorities: [
              {
                keyless: {
                  url: 'https://fulcio.sigstore.dev',
                  identities: [
                    { issuer: kubewarden.issuer, subjectRegExp: '^https://github\\.com/kubewarden/.*$' },
                  ],
                },
                ctlog: { url: 'https://rekor.sigstore.dev' },
              },
            ],
          },
        }),
        stringify({
          apiVersion: 'policy.sigstore.dev/v1beta1',
          kind: 'ClusterImagePolicy',
          metadata: { name: 'apps-key' },
          spec: {
            images: [{ glob: `${host}/apps/**` }],
            authorities: [
              { name: 'release key', key: { data: pemOf(fixtures.signer.publicKey) }, ctlog: {} },
            ],
          },
        }),
      ].join('---\n'),
    );
    const r = await policyTest(
      '-p',
      policies,
      '--image',
      fixtures.keylessImage(host),
      '--image',
      fixtures.keySigned.tagged(host),
      '--image',
      fixtures.unsigned.tagged(host),
    );
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, /^ALLOW image .*signed\/kubewarden@/m);
    assert.match(r.stdout, /ok {3}policy kubewarden \(policy\.sigstore\.dev\): VERIFIED/);
    assert.match(r.stdout, /^ALLOW image .*apps\/api:v1$/m);
    assert.match(r.stdout, /^DENY {2}image .*apps\/unsigned:v1$/m);
    assert.match(
      r.stdout,
      /policy apps-key \(policy\.sigstore\.dev\), authority release-key: .*\[SIGNATURE_MISSING\]/,
    );
    assert.match(
      r.stdout,
      /^warning ClusterImagePolicy\.policy\.sigstore\.dev\/apps-key: spec\.authorities\[0\]\.name: "release key" is named release-key/m,
    );
  });

  test('a sigward and a policy-controller policy of the same name never share a verdict', async () => {
    const policies = mkdtempSync(join(dir, 'same-name-'));
    const own = releasePolicy();
    own.metadata.name = 'same';
    writeFileSync(join(policies, 'own.yaml'), stringify(own));
    writeFileSync(
      join(policies, 'pc.yaml'),
      stringify({
        apiVersion: 'policy.sigstore.dev/v1beta1',
        kind: 'ClusterImagePolicy',
        metadata: { name: 'same' },
        spec: {
          images: [{ glob: `${host}/signed/**` }],
          authorities: [
            {
              name: 'release-workflow',
              keyless: {
                identities: [{ issuer: kubewarden.issuer, subject: 'https://github.com/someone/else' }],
              },
            },
          ],
        },
      }),
    );
    const r = await policyTest('-p', policies, '--image', fixtures.keylessImage(host));
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, /ok {3}policy same: VERIFIED/);
    assert.match(
      r.stdout,
      /FAIL image .*policy same \(policy\.sigstore\.dev\), authority release-workflow: expected subject "https:\/\/github\.com\/someone\/else"/,
    );
  });

  test('a CUE policy over an attestation is not honoured: invalid (exit 2), the image fails closed with POLICY_INVALID', async () => {
    const pc = file('pc-att.yaml', {
      apiVersion: 'policy.sigstore.dev/v1beta1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'needs-sbom' },
      spec: {
        images: [{ glob: `${host}/signed/**` }],
        authorities: [
          {
            keyless: { identities: [{ issuer: kubewarden.issuer, subject: kubewarden.subject }] },
            attestations: [
              {
                name: 'sbom',
                predicateType: 'spdxjson',
                policy: { type: 'cue', data: 'predicateType: "https://spdx.dev/Document"' },
              },
            ],
          },
        ],
      },
    });
    const r = await policyTest('-p', pc, '--image', fixtures.keylessImage(host));
    assert.equal(r.code, 2, r.stdout);
    assert.match(
      r.stdout,
      /^INVALID ClusterImagePolicy\.policy\.sigstore\.dev\/needs-sbom: spec\.authorities\[0\]\.attestations\[0\]\.policy: a cue policy over the attestation is not honoured/m,
    );
    assert.match(r.stdout, /^DENY {2}image /m);
    assert.match(r.stdout, /\[POLICY_INVALID\]/);
  });
});

describe('sigward-test.yaml', () => {
  test('every case as expected: PASS lines, exit 0; one not as expected: FAIL naming why, exit 1', async () => {
    const sub = mkdtempSync(join(dir, 'suite-'));
    writeFileSync(join(sub, 'policy.yaml'), stringify(releasePolicy()));
    writeFileSync(join(sub, 'root.json'), '');
    const suite = (tests: unknown[]) =>
      stringify({
        apiVersion: 'cli.sigward.dev/v1alpha1',
        kind: 'PolicyTest',
        metadata: { name: 'releases' },
        policies: ['policy.yaml'],
        tests,
      });
    writeFileSync(
      join(sub, 'sigward-test.yaml'),
      suite([
        {
          name: 'release admitted',
          image: fixtures.keylessImage(host),
          expect: { decision: 'allow', reason: 'VERIFIED' },
        },
        {
          name: 'unsigned refused',
          image: `${host}/signed/other@${fixtures.unsigned.digest}`,
          expect: { decision: 'deny', reason: 'SIGNATURE_MISSING', message: 'policy kubewarden-releases' },
        },
        {
          name: 'no policy',
          image: fixtures.unsigned.tagged(host),
          expect: { decision: 'deny', reason: 'NO_POLICY' },
        },
      ]),
    );
    const ok = await policyTest(sub);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    assert.match(ok.stdout, /^PASS release admitted$/m);
    assert.match(ok.stdout, /^PASS unsigned refused$/m);
    assert.match(ok.stdout, /^releases: 3 of 3 test\(s\) passed$/m);

    writeFileSync(
      join(sub, 'sigward-test.yaml'),
      suite([
        {
          name: 'wrongly expected',
          image: fixtures.keylessImage(host),
          expect: { decision: 'deny', reason: 'IDENTITY_MISMATCH' },
        },
      ]),
    );
    const bad = await policyTest(sub);
    assert.equal(bad.code, 1, bad.stderr + bad.stdout);
    assert.match(bad.stdout, /^FAIL wrongly expected\n {2}image .*: expected deny, got allow \(VERIFIED\)$/m);
    assert.match(bad.stdout, /^releases: 0 of 1 test\(s\) passed$/m);
  });

  test('a malformed test file exits 2 naming the field', async () => {
    const sub = mkdtempSync(join(dir, 'bad-suite-'));
    writeFileSync(
      join(sub, 'sigward-test.yaml'),
      stringify({
        apiVersion: 'cli.sigward.dev/v1alpha1',
        kind: 'PolicyTest',
        policies: ['p.yaml'],
        tests: [{ image: 'x', expect: { decision: 'maybe' } }],
      }),
    );
    const r = await sigward(['policy', 'test', sub]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /tests\[0\]\.expect\.decision: must be one of allow, deny, warn, audit, skip/);
    // One line naming the field, not the whole usage text after it.
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});
