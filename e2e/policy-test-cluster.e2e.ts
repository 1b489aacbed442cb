// `sigward policy test --cluster` against a real kube-apiserver, run as an identity holding ONLY the
// documented read-only RBAC (list pods, list namespaces): which running workloads would a policy deny?
// Pods are created through the apiserver (no kubelet: they stay Pending, which counts as running); the
// registry is Debian's docker-registry holding a real public-good keyless signature and images made here.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { stringify } from 'yaml';
import { startKube, type Kube } from './world/kube.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';
import { serviceAccountKubeconfig } from './world/chart.ts';
import { startDockerRegistry, type DockerRegistry } from '../test/support/docker-registry.ts';
import { pushFixtures, type Fixtures } from '../test/engine/harness.ts';
import { kubewarden } from '../test/sigstore/discover-fixtures.ts';
import { PROD_ROOT_PATH, REPO_ROOT } from '../test/sigstore/ext.ts';

function sigward(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(REPO_ROOT, 'bin/sigward'), [...args], (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

describe('impact preview: sigward policy test --cluster', () => {
  let runDir: RunDir;
  let kube: Kube;
  let registry: DockerRegistry;
  let fixtures: Fixtures;
  let previewKubeconfig: string;
  let policy: string;
  let failed = false;
  const check = stepsNotingFailure(() => (failed = true));
  /** `sigward policy test --cluster` as the read-only previewer, with the policy and the prod root. */
  const previewAs = (...extra: string[]) =>
    sigward([
      'policy',
      'test',
      '--cluster',
      '--kubeconfig',
      previewKubeconfig,
      '-p',
      policy,
      ...extra,
      '--trusted-root',
      PROD_ROOT_PATH,
      '--cloud-credentials',
      'none',
    ]);

  const pod = (namespace: string, name: string, image: string, owner?: { rs: string; hash: string }) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      ...(owner === undefined
        ? {}
        : {
            labels: { 'pod-template-hash': owner.hash },
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'ReplicaSet',
                name: owner.rs,
                uid: '6f1b3c2e-0000-4000-8000-000000000001',
                controller: true,
              },
            ],
          }),
    },
    spec: { containers: [{ name: 'main', image }] },
  });

  before(async () => {
    runDir = createRunDir('sigward-preview-');
    try {
      [kube, registry] = await Promise.all([startKube(runDir), startDockerRegistry()]);
      fixtures = await pushFixtures(registry.host);
      const host = registry.host;
      const objects = [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
        {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: 'lab', labels: { 'sigward.dev/exclude': 'true' } },
        },
        pod('shop', 'web-7c9d5-aaaaa', fixtures.keylessImage(host), { rs: 'web-7c9d5', hash: '7c9d5' }),
        pod('shop', 'web-7c9d5-bbbbb', fixtures.keylessImage(host), { rs: 'web-7c9d5', hash: '7c9d5' }),
        pod('shop', 'cart', `${host}/signed/cart@${fixtures.unsigned.digest}`),
        pod('lab', 'experiment', `${host}/signed/cart@${fixtures.unsigned.digest}`),
        // The documented least-privilege role for the preview, bound to a service account.
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'previewer', namespace: 'shop' } },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: 'sigward-impact-preview' },
          rules: [
            { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
            { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
          ],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: 'sigward-impact-preview' },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: 'sigward-impact-preview',
          },
          subjects: [{ kind: 'ServiceAccount', name: 'previewer', namespace: 'shop' }],
        },
      ];
      const applied = await kube.kubectl(['apply', '-f', '-'], {
        input: objects.map((o) => stringify(o)).join('---\n'),
      });
      assert.equal(applied.code, 0, applied.stderr);
      previewKubeconfig = await serviceAccountKubeconfig(kube, runDir.sub('previewer'), 'shop', 'previewer');
      policy = join(runDir.root, 'policy.yaml');
      writeFileSync(
        policy,
        stringify({
          apiVersion: 'policy.sigward.dev/v1alpha1',
          kind: 'ClusterImagePolicy',
          metadata: { name: 'releases' },
          spec: {
            images: [`${host}/signed/**`],
            authorities: [
              {
                name: 'release',
                keyless: { identities: [{ issuer: kubewarden.issuer, subject: kubewarden.subject }] },
              },
            ],
          },
        }),
      );
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await Promise.all([kube?.stop(), registry?.stop()]);
    if (failed) console.error(`preview e2e: logs kept in ${runDir.keepLogs('policy-test-cluster')}`);
    runDir.remove();
  });

  check(
    'with list pods and list namespaces only: the unsigned workload is named, the signed one admitted, the excluded namespace skipped',
    async () => {
      const r = await previewAs();
      assert.equal(r.code, 1, r.stderr + r.stdout);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^ALLOW Deployment shop\/web \(2 pods, e\.g\. web-7c9d5-aaaaa\)$/m);
      assert.match(r.stdout, /^DENY {2}Pod shop\/cart$/m);
      assert.match(
        r.stdout,
        /FAIL image .*signed\/cart@sha256:.* in spec\.containers\[0\]\.image: policy releases, authority release: .*\[SIGNATURE_MISSING\]/,
      );
      assert.match(r.stdout, /^SKIP {2}Pod lab\/experiment$/m);
    },
  );

  check(
    '--namespace limits the preview to one namespace; a policy admitting everything there exits 0',
    async () => {
      const r = await previewAs('--namespace', 'lab');
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.doesNotMatch(r.stdout, /shop\//);
      assert.match(r.stdout, /^SKIP {2}Pod lab\/experiment$/m);
    },
  );

  check('without list pods the preview fails clearly (exit 2), never reports an empty cluster', async () => {
    const revoked = await kube.kubectl(['delete', 'clusterrolebinding', 'sigward-impact-preview']);
    assert.equal(revoked.code, 0, revoked.stderr);
    const r = await previewAs();
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /listing Pods failed \(needs list pods\)/);
  });
});
