// The ordered skip rules: each sample review lands on the rule it should, with its reason; the order
// is the documented one; dry run is checked and noted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAdmissionReview } from '../../src/admission/review.ts';
import type { AdmissionRequest } from '../../src/admission/review.ts';
import { EXCLUDE_LABEL, INCLUDE_LABEL, planReview, SKIP_RULES } from '../../src/admission/skip.ts';
import type { SkipSettings } from '../../src/admission/skip.ts';
import { fixture } from './fixtures.ts';

const settings: SkipSettings = { ownNamespace: 'sigward', scope: 'opt-out' };
const request = (name: string, patch: Record<string, unknown> = {}): AdmissionRequest => {
  const body = fixture(name);
  return parseAdmissionReview({ ...body, request: { ...body.request, ...patch } }).request;
};
const skipOf = (r: AdmissionRequest, s: SkipSettings = settings, labels?: Record<string, string>) => {
  const plan = planReview(r, s, labels);
  return plan.skip === undefined ? undefined : `${plan.skip.rule}: ${plan.skip.reason}`;
};
const checked = (r: AdmissionRequest, s: SkipSettings = settings, labels?: Record<string, string>) => {
  const plan = planReview(r, s, labels);
  assert.equal(plan.skip, undefined, plan.skip?.reason);
  return plan.skip === undefined ? plan : assert.fail();
};

test('the rules, in order', () => {
  assert.deepEqual(SKIP_RULES, [
    'operation',
    'resource',
    'system-namespace',
    'namespace-label',
    'no-images',
    'no-image-change',
  ]);
});

test('DELETE and CONNECT are skipped first', () => {
  assert.equal(skipOf(request('pod-delete')), 'operation: DELETE brings no new image');
  assert.equal(
    skipOf(request('pod-create-signed', { operation: 'CONNECT', namespace: 'kube-system' })),
    'operation: CONNECT brings no new image',
  );
});

test('resources and subresources sigward does not check', () => {
  assert.equal(skipOf(request('configmap-create')), 'resource: configmaps is not a resource sigward checks');
  assert.equal(
    skipOf(request('pod-status-update')),
    'resource: pods/status is not a resource sigward checks',
  );
  assert.equal(
    skipOf(request('deployment-create', { subResource: 'scale', operation: 'UPDATE', oldObject: {} })),
    'resource: apps/deployments/scale is not a resource sigward checks',
  );
  assert.equal(checked(request('pod-ephemeralcontainers')).sites.length, 1);
});

test("kube-system and sigward's own namespace are never checked, whatever the labels", () => {
  assert.equal(
    skipOf(request('pod-kube-system'), settings, { [INCLUDE_LABEL]: 'true' }),
    'system-namespace: namespace kube-system is excluded',
  );
  assert.equal(
    skipOf(request('pod-create-signed', { namespace: 'sigward' })),
    "system-namespace: sigward is sigward's own namespace",
  );
  assert.equal(
    skipOf(request('pod-create-signed', { namespace: 'istio-system' }), {
      ...settings,
      excludedNamespaces: ['istio-system'],
    }),
    'system-namespace: namespace istio-system is excluded',
  );
  // The object's own namespace counts when the request has none.
  const r = request('pod-kube-system');
  const { namespace: _drop, ...noNamespace } = r;
  assert.equal(
    skipOf(noNamespace as AdmissionRequest),
    'system-namespace: namespace kube-system is excluded',
  );
});

test('opt-out label, and opt-in scope', () => {
  const r = request('pod-create-signed');
  assert.equal(
    skipOf(r, settings, { [EXCLUDE_LABEL]: 'true' }),
    `namespace-label: namespace default is labelled ${EXCLUDE_LABEL}=true`,
  );
  assert.equal(skipOf(r, settings, { [EXCLUDE_LABEL]: 'false' }), undefined);
  assert.equal(skipOf(r, settings, {}), undefined);
  const optIn: SkipSettings = { ...settings, scope: 'opt-in' };
  assert.equal(
    skipOf(r, optIn, {}),
    `namespace-label: namespace default is not labelled ${INCLUDE_LABEL}=true (opt-in scope)`,
  );
  assert.equal(
    skipOf(r, optIn, { [INCLUDE_LABEL]: 'yes' }),
    `namespace-label: namespace default is not labelled ${INCLUDE_LABEL}=true (opt-in scope)`,
  );
  assert.equal(skipOf(r, optIn, { [INCLUDE_LABEL]: 'true' }), undefined);
  assert.equal(
    skipOf(r, optIn, { [INCLUDE_LABEL]: 'true', [EXCLUDE_LABEL]: 'true' })?.startsWith('namespace-label'),
    true,
  );
  // Unknown labels in opt-in scope: checked, and said so.
  assert.deepEqual(checked(r, optIn).notes, [
    'namespace labels unknown: checked (opt-in scope fails closed)',
  ]);
});

test('an object without images is skipped', () => {
  const body = fixture('pod-create-signed');
  const object = body.request['object'] as { spec: Record<string, unknown> };
  object.spec['containers'] = [];
  assert.equal(skipOf(parseAdmissionReview(body).request), 'no-images: the object names no image');
});

test('UPDATE: no image change is skipped; only changed images are checked', () => {
  assert.equal(skipOf(request('pod-update-labels-only')), 'no-image-change: the update changes no image');
  assert.deepEqual(
    checked(request('pod-update-image')).sites.map((s) => `${s.field}=${s.image}`),
    ['spec.containers[0].image=registry.example.com/apps/api:1.5.0'],
  );
  assert.deepEqual(
    checked(request('pod-ephemeralcontainers')).sites.map((s) => `${s.field}=${s.image}`),
    ['spec.ephemeralContainers[0].image=busybox:1.36'],
  );
  // An unreadable old object: every image counts as new.
  assert.equal(
    checked(request('pod-update-labels-only', { oldObject: { spec: { containers: 'x' } } })).sites.length,
    1,
  );
});

test('CREATE of every workload kind is checked with all its sites', () => {
  for (const [name, count] of [
    ['pod-create-signed', 1],
    ['pod-create-wrong-signer', 3],
    ['pod-create-image-volume', 2],
    ['deployment-create', 2],
    ['replicaset-create', 2],
    ['statefulset-create', 2],
    ['daemonset-create', 2],
    ['job-create', 1],
    ['cronjob-create', 1],
    ['replicationcontroller-create', 2],
  ] as const) {
    const plan = checked(request(name));
    assert.equal(plan.sites.length, count, name);
    assert.equal(plan.dryRun, false);
    assert.deepEqual(plan.notes, []);
  }
});

test('dry run is checked like any request, and noted', () => {
  const plan = checked(request('pod-create-dry-run'));
  assert.equal(plan.dryRun, true);
  assert.deepEqual(plan.notes, ['dry run: checked, nothing is persisted']);
});

test('a hostile object is an error, never a skip', () => {
  assert.throws(
    () => planReview(request('pod-create-signed', { object: { spec: { containers: 'evil' } } }), settings),
    {
      code: 'ADMISSION_OBJECT_INVALID',
    },
  );
  const containers = Array.from({ length: 10_000 }, () => ({ name: 'c', image: 'nginx' }));
  assert.throws(
    () => planReview(request('pod-create-signed', { object: { spec: { containers } } }), settings),
    {
      code: 'ADMISSION_TOO_MANY_IMAGES',
    },
  );
});

test('the first rule that applies gives the reason', () => {
  // A DELETE of a ConfigMap in kube-system: the operation rule comes first.
  assert.equal(
    skipOf(request('configmap-create', { operation: 'DELETE', namespace: 'kube-system' }))?.split(':')[0],
    'operation',
  );
  // A ConfigMap in kube-system: the resource rule comes before the namespace rule.
  assert.equal(skipOf(request('configmap-create', { namespace: 'kube-system' }))?.split(':')[0], 'resource');
  // A pod in kube-system whose namespace also carries the opt-out label: the system rule.
  assert.equal(
    skipOf(request('pod-kube-system'), settings, { [EXCLUDE_LABEL]: 'true' })?.split(':')[0],
    'system-namespace',
  );
  // An excluded namespace with a hostile object is skipped before the object is read.
  assert.equal(
    skipOf(request('pod-create-signed', { object: { spec: { containers: 'evil' } } }), settings, {
      [EXCLUDE_LABEL]: 'true',
    })?.split(':')[0],
    'namespace-label',
  );
});
