// `sigward webhook --policy-controller-policies` on a real kube-apiserver: policy-controller's
// ClusterImagePolicies (policy.sigstore.dev/v1beta1) are watched beside sigward's own, translated into
// the same snapshot the engine judges with, and their status is never written (policy-controller owns
// it), while sigward's own resources still get their Ready condition.
//
// The CRD is a STAND-IN for policy-controller's config/300-clusterimagepolicy.yaml: the same group,
// names, scope, versions (v1alpha1 storage, v1beta1 served) and status subresource, with the schema
// reduced to preserve-unknown-fields and conversion `None` (its conversion webhook does not run here).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe } from 'node:test';
import { stringify } from 'yaml';
import { ClusterPolicySource, loadKubeConfig } from '../src/kube/index.ts';
import type { PolicySnapshot } from '../src/kube/index.ts';
import { startKube, type Kube } from './world/kube.ts';
import { kubectlOk } from './world/kubectl.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const crdDir = fileURLToPath(new URL('../charts/sigward/crds/', import.meta.url));

const version = (name: string, storage: boolean) => ({
  name,
  served: true,
  storage,
  subresources: { status: {} },
  schema: {
    openAPIV3Schema: {
      type: 'object',
      properties: {
        spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
    },
  },
});
const POLICY_CONTROLLER_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'clusterimagepolicies.policy.sigstore.dev' },
  spec: {
    group: 'policy.sigstore.dev',
    names: {
      kind: 'ClusterImagePolicy',
      plural: 'clusterimagepolicies',
      singular: 'clusterimagepolicy',
      shortNames: ['cip'],
    },
    scope: 'Cluster',
    conversion: { strategy: 'None' },
    versions: [version('v1alpha1', true), version('v1beta1', false)],
  },
};

const pcPolicy = (name: string, authority: Record<string, unknown>) => ({
  apiVersion: 'policy.sigstore.dev/v1beta1',
  kind: 'ClusterImagePolicy',
  metadata: { name },
  spec: { images: [{ glob: 'ghcr.io/kubewarden/**' }], authorities: [authority] },
});
const keyless = {
  keyless: {
    url: 'https://fulcio.sigstore.dev',
    identities: [
      {
        issuer: 'https://token.actions.githubusercontent.com',
        subjectRegExp: '^https://github\\.com/kubewarden/.*$',
      },
    ],
  },
};

describe('policy-controller ClusterImagePolicies watched as-is', () => {
  let runDir: RunDir;
  let kube: Kube;
  let source: ClusterPolicySource;
  let failed = false;
  const statusWrites: string[] = [];
  const waiters: Array<() => void> = [];
  const check = stepsNotingFailure(() => (failed = true));
  const apply = (resource: unknown) =>
    kubectlOk(kube.kubectl, ['apply', '-f', '-'], { input: stringify(resource) });

  /** Resolves when the source's snapshot satisfies `ok` (re-checked on every change); fails after 30 s. */
  const until = async (ok: (s: PolicySnapshot) => boolean, what: string): Promise<PolicySnapshot> => {
    const deadline = AbortSignal.timeout(30_000);
    while (!ok(source.current())) {
      if (deadline.aborted) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        deadline.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    return source.current();
  };

  before(async () => {
    runDir = createRunDir('sigward-pc-source-');
    try {
      kube = await startKube(runDir);
      await kubectlOk(kube.kubectl, ['apply', '-f', crdDir]);
      await apply(POLICY_CONTROLLER_CRD);
      await kubectlOk(kube.kubectl, [
        'wait',
        '--for=condition=Established',
        '--timeout=60s',
        'crd/clusterimagepolicies.policy.sigstore.dev',
        'crd/clusterimagepolicies.policy.sigward.dev',
      ]);
      source = new ClusterPolicySource(loadKubeConfig(kube.kubeconfig), {
        policyControllerPolicies: true,
        events: {
          changed: () => waiters.splice(0).forEach((w) => w()),
          // Every status write attempted, written or failed: none may be for policy-controller's.
          statusWritten: (r) => {
            statusWrites.push(`${r.apiGroup ?? 'policy.sigward.dev'}/${r.name}`);
            waiters.splice(0).forEach((w) => w());
          },
          statusFailed: (r) => {
            statusWrites.push(`${r.apiGroup ?? 'policy.sigward.dev'}/${r.name} (failed)`);
            waiters.splice(0).forEach((w) => w());
          },
        },
      });
      await source.start();
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await source?.stop();
    await kube?.stop();
    if (failed) console.error(`policy-controller source e2e: logs kept in ${runDir.keepLogs('pc-source')}`);
    runDir.remove();
  });

  check('a v1beta1 ClusterImagePolicy joins the snapshot, translated and valid', async () => {
    await apply(pcPolicy('kubewarden', keyless));
    const snapshot = await until((s) => s.policies.some((p) => p.name === 'kubewarden'), 'the policy');
    const policy = snapshot.policies.find((p) => p.name === 'kubewarden')!;
    assert.equal(policy.valid, true, JSON.stringify(policy.errors));
    assert.equal(policy.displayName, 'kubewarden (policy.sigstore.dev)');
    assert.equal(policy.authorities[0]?.kind, 'keyless');
    assert.ok(source.synced);
  });

  check('an edit that sigward cannot honour makes it invalid at once, naming the field', async () => {
    await apply(
      pcPolicy('kubewarden', { ...keyless, attestations: [{ name: 'sbom', predicateType: 'spdxjson' }] }),
    );
    const snapshot = await until(
      (s) => s.policies.some((p) => p.name === 'kubewarden' && !p.valid),
      'the invalid policy',
    );
    const resource = snapshot.resources.find((r) => r.name === 'kubewarden')!;
    assert.equal(resource.apiGroup, 'policy.sigstore.dev');
    assert.deepEqual(
      resource.errors.map((e) => e.field),
      ['spec.authorities[0].attestations'],
    );
  });

  check("its status is never written, while sigward's own policy gets Ready", async () => {
    await apply({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'own' },
      spec: {
        images: ['ghcr.io/o/**'],
        authorities: [
          {
            name: 'a',
            ...keyless,
            keyless: {
              identities: keyless.keyless.identities.map((i) => ({
                issuer: i.issuer,
                subjectRegExp: 'https://github\\.com/o/.*',
              })),
            },
          },
        ],
      },
    });
    await until(() => statusWrites.includes('policy.sigward.dev/own'), "sigward's status write");
    assert.ok(!statusWrites.some((w) => w.startsWith('policy.sigstore.dev/')), statusWrites.join(', '));
    const status = await kubectlOk(kube.kubectl, [
      'get',
      'clusterimagepolicies.v1beta1.policy.sigstore.dev',
      'kubewarden',
      '-o',
      'jsonpath={.status}',
    ]);
    assert.equal(status, '');
  });

  check('deleting it removes it from the snapshot', async () => {
    await kubectlOk(kube.kubectl, [
      'delete',
      'clusterimagepolicies.v1beta1.policy.sigstore.dev',
      'kubewarden',
    ]);
    await until((s) => !s.policies.some((p) => p.name === 'kubewarden'), 'the deletion');
  });
});
