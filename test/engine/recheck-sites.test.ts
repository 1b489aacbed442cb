// What the re-check verifies for one running Pod (engine/recheck-sites.ts), pure: every image site
// with its admission field path, pinned to the digest status.*ContainerStatuses[].imageID reports
// (containerd/CRI-O `repo@sha256:…` and dockershim `docker-pullable://…`), a bare config digest
// ignored, the admission skip rules applied, the Pod's pull secrets and service account kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decisionKey, pinnedTo, recheckPlan, runningDigest } from '../../src/engine/recheck-sites.ts';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import { API, kubewardenAuthority } from './harness.ts';
import type { RunningPod } from '../../src/engine/recheck-sites.ts';
import { podView } from '../../src/kube/running-pods.ts';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const skip = { ownNamespace: 'sigward', scope: 'opt-out' } as const;

const pod = (namespace: string, object: Record<string, unknown>): RunningPod => {
  const view = podView({ metadata: { name: 'web', namespace, uid: 'u1' }, ...object });
  assert.ok(view);
  return view;
};

test('runningDigest reads a manifest digest from an imageID, never a bare config digest', () => {
  assert.equal(runningDigest(`registry.example/apps/api@${A}`), A);
  assert.equal(runningDigest(`docker-pullable://registry.example/apps/api@${A}`), A);
  assert.equal(runningDigest(A), undefined);
  assert.equal(runningDigest(`registry.example/apps/api@sha256:short`), undefined);
  assert.equal(runningDigest(''), undefined);
  assert.equal(pinnedTo('registry.example/apps/api:1.2', A), `registry.example/apps/api:1.2@${A}`);
  assert.equal(pinnedTo(`registry.example/apps/api:1.2@${B}`, A), `registry.example/apps/api:1.2@${A}`);
});

test('every site pinned to what its container runs; init, ephemeral and image volumes included', () => {
  const plan = recheckPlan(
    pod('apps', {
      spec: {
        serviceAccountName: 'builder',
        imagePullSecrets: [{ name: 'regcred' }],
        initContainers: [{ name: 'init', image: 'registry.example/apps/init:1' }],
        containers: [
          { name: 'app', image: 'registry.example/apps/api:1.2' },
          { name: 'side', image: 'registry.example/apps/side:3' },
        ],
        ephemeralContainers: [{ name: 'debug', image: 'registry.example/tools/debug:1' }],
        volumes: [{ name: 'models', image: { reference: 'registry.example/apps/models:7' } }],
      },
      status: {
        initContainerStatuses: [{ name: 'init', imageID: `registry.example/apps/init@${B}` }],
        containerStatuses: [
          { name: 'app', imageID: `docker-pullable://registry.example/apps/api@${A}` },
          { name: 'side', imageID: B },
        ],
      },
    }),
    skip,
  );
  assert.equal(plan.skip, undefined);
  if (plan.skip !== undefined) return;
  assert.deepEqual(
    plan.sites.map((s) => [s.field, s.verify]),
    [
      ['spec.initContainers[0].image', `registry.example/apps/init:1@${B}`],
      ['spec.containers[0].image', `registry.example/apps/api:1.2@${A}`],
      ['spec.containers[1].image', 'registry.example/apps/side:3'],
      ['spec.ephemeralContainers[0].image', 'registry.example/tools/debug:1'],
      ['spec.volumes[0].image.reference', 'registry.example/apps/models:7'],
    ],
  );
  assert.equal(plan.sites[1]?.image, 'registry.example/apps/api:1.2', 'the image as written is kept');
  assert.deepEqual(plan.workload, {
    namespace: 'apps',
    serviceAccountName: 'builder',
    imagePullSecrets: ['regcred'],
  });
});

test('the admission skip rules apply: own namespace, kube-system, opt-out label, opt-in scope', () => {
  const spec = { spec: { containers: [{ name: 'app', image: 'registry.example/apps/api:1' }] } };
  assert.match(recheckPlan(pod('sigward', spec), skip).skip ?? '', /sigward's own namespace/);
  assert.match(recheckPlan(pod('kube-system', spec), skip).skip ?? '', /excluded/);
  assert.match(recheckPlan(pod('apps', spec), skip, { 'sigward.dev/exclude': 'true' }).skip ?? '', /exclude/);
  assert.match(recheckPlan(pod('apps', spec), { ...skip, scope: 'opt-in' }, {}).skip ?? '', /opt-in/);
  assert.equal(recheckPlan(pod('apps', spec), skip, {}).skip, undefined);
  assert.match(recheckPlan(pod('apps', { spec: {} }), skip).skip ?? '', /no image/);
});

test('podView: finished Pods run nothing; only what the re-check reads is kept', () => {
  for (const phase of ['Succeeded', 'Failed'])
    assert.equal(podView({ metadata: { name: 'job', namespace: 'apps' }, status: { phase } }), undefined);
  assert.equal(podView({ metadata: { name: 'x' } }), undefined, 'no namespace');
  const view = podView({
    metadata: {
      name: 'web',
      namespace: 'apps',
      uid: 'u1',
      labels: { a: 'b' },
      ownerReferences: [
        { kind: 'Other', name: 'o', controller: false },
        { kind: 'ReplicaSet', name: 'web-5d8', controller: true },
      ],
    },
    spec: { containers: [{ name: 'app', image: 'i', env: [{ name: 'SECRET', value: 'x' }] }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'app', imageID: `i@${A}`, ready: true }] },
  });
  assert.equal(view?.key, 'apps/web');
  assert.deepEqual((view?.object['metadata'] as { ownerReferences: unknown }).ownerReferences, [
    { kind: 'ReplicaSet', name: 'web-5d8' },
  ]);
  assert.doesNotMatch(JSON.stringify(view?.object), /SECRET|labels|ready/);
});

test('decisionKey: the same digest under the same policies is one decision; tags count only for multiArch index', () => {
  const snapshot = buildSnapshot([
    {
      apiVersion: API,
      kind: 'ClusterImagePolicy',
      metadata: { name: 'all', generation: 1 },
      spec: { images: ['registry.example/**'], authorities: [kubewardenAuthority()] },
    },
    {
      apiVersion: API,
      kind: 'ImagePolicy',
      metadata: { name: 'team', namespace: 'team-a', generation: 1 },
      spec: { images: ['registry.example/team/**'], authorities: [kubewardenAuthority()] },
    },
    {
      apiVersion: API,
      kind: 'ClusterImagePolicy',
      metadata: { name: 'indexed', generation: 1 },
      spec: {
        images: ['registry.example/multi/**'],
        multiArch: 'index',
        authorities: [kubewardenAuthority()],
      },
    },
  ]);
  const key = (verify: string, namespace: string) => decisionKey({ verify }, namespace, snapshot.policies);
  assert.equal(key(`registry.example/apps/api:1@${A}`, 'a'), key(`registry.example/apps/api@${A}`, 'b'));
  assert.notEqual(key(`registry.example/apps/api@${A}`, 'a'), key(`registry.example/apps/api@${B}`, 'a'));
  assert.notEqual(
    key(`registry.example/team/api@${A}`, 'team-a'),
    key(`registry.example/team/api@${A}`, 'team-b'),
  );
  assert.notEqual(
    key(`registry.example/multi/api:1@${A}`, 'a'),
    key(`registry.example/multi/api:2@${A}`, 'a'),
  );
  assert.notEqual(key('registry.example/apps/api:1', 'a'), key('registry.example/apps/api:2', 'a'));
  assert.notEqual(key('NOT A REFERENCE', 'a'), key('NOT A REFERENCE', 'b'));
});
