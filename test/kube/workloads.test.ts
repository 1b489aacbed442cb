// Which workload owns a running Pod, from its ownerReferences alone (no extra reads, no extra RBAC).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerOf, podController } from '../../src/kube/workloads.ts';
import { podView } from '../../src/kube/running-pods.ts';
import { workloadInputs } from '../../src/cli/policy-test-cluster.ts';

test('a Deployment behind its ReplicaSet, other controllers as they are, a bare Pod as itself', () => {
  const rs = { kind: 'ReplicaSet', name: 'web-5d4f8c7b9', controller: true };
  assert.deepEqual(
    ownerOf({
      metadata: {
        name: 'web-5d4f8c7b9-abcde',
        labels: { 'pod-template-hash': '5d4f8c7b9' },
        ownerReferences: [rs],
      },
    }),
    { kind: 'Deployment', name: 'web' },
  );
  // A ReplicaSet made by hand (no pod-template-hash suffix) stays a ReplicaSet.
  assert.deepEqual(ownerOf({ metadata: { name: 'x-1', ownerReferences: [{ ...rs, name: 'mine' }] } }), {
    kind: 'ReplicaSet',
    name: 'mine',
  });
  assert.deepEqual(
    ownerOf({
      metadata: { name: 'db-0', ownerReferences: [{ kind: 'StatefulSet', name: 'db', controller: true }] },
    }),
    { kind: 'StatefulSet', name: 'db' },
  );
  assert.deepEqual(ownerOf({ metadata: { name: 'lonely' } }), { kind: 'Pod', name: 'lonely' });
});

test('pods of one workload with the same images are judged once; a rollout in progress twice', () => {
  const pod = (name: string, image: string) => ({
    namespace: 'shop',
    name,
    owner: { kind: 'Deployment', name: 'web' },
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'shop' },
      spec: { containers: [{ name: 'c', image }] },
    },
  });
  const inputs = workloadInputs([pod('a', 'x:1'), pod('b', 'x:1'), pod('c', 'x:2')]);
  assert.deepEqual(
    inputs.map((i) => i.label),
    ['Deployment shop/web (2 pods, e.g. a)', 'Deployment shop/web (1 pod, e.g. c)'],
  );
});

test("pods are grouped by the webhook's own image sites: an image volume counts, an unreadable Pod stands alone", () => {
  const pod = (name: string, spec: Record<string, unknown>) => ({
    namespace: 'shop',
    name,
    owner: { kind: 'Deployment', name: 'web' },
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop' }, spec },
  });
  const containers = [{ name: 'c', image: 'x:1' }];
  const volume = (reference: string) => [{ name: 'models', image: { reference } }];
  const inputs = workloadInputs([
    pod('a', { containers, volumes: volume('models:1') }),
    pod('b', { containers, volumes: volume('models:2') }),
    pod('c', { containers, volumes: volume('models:2') }),
    pod('d', { containers: 'not a list' }),
  ]);
  assert.deepEqual(
    inputs.map((i) => i.label),
    [
      'Deployment shop/web (1 pod, e.g. a)',
      'Deployment shop/web (2 pods, e.g. b)',
      'Deployment shop/web (1 pod, e.g. d)',
    ],
  );
});

test('one reading of ownerReferences for policy test and the re-check: only the controller owns a Pod', () => {
  const pod = {
    metadata: {
      name: 'web-5d8-x',
      namespace: 'apps',
      labels: { 'pod-template-hash': '5d8' },
      ownerReferences: [
        { kind: 'Backup', name: 'nightly', controller: false },
        { kind: 'ReplicaSet', name: 'web-5d8', controller: true },
      ],
    },
  };
  assert.deepEqual(podController(pod.metadata), { kind: 'ReplicaSet', name: 'web-5d8' });
  assert.deepEqual(podView(pod)?.owner, { kind: 'ReplicaSet', name: 'web-5d8' }, 're-check: the controller');
  assert.deepEqual(ownerOf(pod), { kind: 'Deployment', name: 'web' }, 'policy test: the workload above it');
  // An owner that is not the controller (kept for garbage collection) does not run the Pod.
  const collected = {
    metadata: { name: 'x', namespace: 'apps', ownerReferences: [{ kind: 'Backup', name: 'b' }] },
  };
  assert.equal(podController(collected.metadata), undefined);
  assert.equal(podView(collected)?.owner, undefined);
  assert.deepEqual(ownerOf(collected), { kind: 'Pod', name: 'x' });
});
