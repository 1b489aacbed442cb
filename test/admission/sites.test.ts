// Every image site with its field path, for every kind the webhook handles; hostile shapes and sizes
// are refused with the field, and nothing else carries images.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAdmissionReview } from '../../src/admission/review.ts';
import {
  changedSites,
  HANDLED_KINDS,
  HANDLED_RESOURCES,
  imageSites,
  jsonPointer,
  MAX_IMAGE_SITES,
  OBJECT_INVALID,
  podSpecPath,
  TOO_MANY_IMAGES,
} from '../../src/admission/sites.ts';
import { fixture } from './fixtures.ts';

const sitesOf = (name: string) => {
  const r = parseAdmissionReview(fixture(name)).request;
  return imageSites(r, r.object).map((s) => `${s.field}=${s.image}${s.template ? ' (template)' : ''}`);
};

test('pods: init containers, containers, image volumes, in manifest order', () => {
  assert.deepEqual(sitesOf('pod-create-wrong-signer'), [
    'spec.initContainers[0].image=registry.example.com/apps/migrate:2.0',
    'spec.containers[0].image=registry.example.com/apps/web:3.1',
    'spec.containers[1].image=prom/statsd-exporter:v0.26.0',
  ]);
  assert.deepEqual(sitesOf('pod-create-image-volume'), [
    `spec.containers[0].image=registry.example.com/apps/server@sha256:${'c'.repeat(64)}`,
    'spec.volumes[0].image.reference=registry.example.com/models/llm:q4',
  ]);
  const r = parseAdmissionReview(fixture('pod-create-image-volume')).request;
  assert.deepEqual(
    imageSites(r, r.object).map((s) => [s.kind, s.name]),
    [
      ['container', 'server'],
      ['imageVolume', 'model'],
    ],
  );
});

test('the ephemeralcontainers subresource: the pod with its new ephemeral container', () => {
  assert.deepEqual(sitesOf('pod-ephemeralcontainers'), [
    'spec.containers[0].image=registry.example.com/apps/api:1.4.2',
    'spec.ephemeralContainers[0].image=busybox:1.36',
  ]);
});

test('workload templates: every kind, with its path', () => {
  const tpl = (prefix: string) => [
    `${prefix}.initContainers[0].image=busybox:1.36 (template)`,
    `${prefix}.containers[0].image=registry.example.com/apps/api:1.4.2 (template)`,
  ];
  for (const name of [
    'deployment-create',
    'replicaset-create',
    'statefulset-create',
    'daemonset-create',
    'replicationcontroller-create',
  ])
    assert.deepEqual(sitesOf(name), tpl('spec.template.spec'), name);
  assert.deepEqual(sitesOf('job-create'), [
    'spec.template.spec.containers[0].image=registry.example.com/apps/migrate:2.0 (template)',
  ]);
  assert.deepEqual(sitesOf('cronjob-create'), [
    'spec.jobTemplate.spec.template.spec.containers[0].image=registry.example.com/apps/report:7 (template)',
  ]);
});

test('handled resources and subresources', () => {
  assert.deepEqual([...HANDLED_RESOURCES].sort(), [
    '/pods',
    '/replicationcontrollers',
    'apps/daemonsets',
    'apps/deployments',
    'apps/replicasets',
    'apps/statefulsets',
    'batch/cronjobs',
    'batch/jobs',
  ]);
  // One kind per handled resource (the admissions metric's kind label takes only these).
  assert.deepEqual([...HANDLED_KINDS].sort(), [
    'CronJob',
    'DaemonSet',
    'Deployment',
    'Job',
    'Pod',
    'ReplicaSet',
    'ReplicationController',
    'StatefulSet',
  ]);
  const gvr = (group: string, resource: string) => ({ group, version: 'v1', resource });
  assert.deepEqual(podSpecPath(gvr('', 'pods')), ['spec']);
  assert.deepEqual(podSpecPath(gvr('', 'pods'), 'ephemeralcontainers'), ['spec']);
  assert.equal(podSpecPath(gvr('', 'pods'), 'status'), undefined);
  assert.equal(podSpecPath(gvr('', 'pods'), 'binding'), undefined);
  assert.equal(podSpecPath(gvr('apps', 'deployments'), 'scale'), undefined);
  assert.equal(podSpecPath(gvr('', 'configmaps')), undefined);
  assert.equal(podSpecPath(gvr('extensions', 'deployments')), undefined);
  assert.equal(podSpecPath(gvr('apps', 'pods')), undefined);
  assert.deepEqual(sitesOf('configmap-create'), [], 'a ConfigMap that names an image carries none');
  // Looked up one after the other (the last resource's place is remembered): the group counts too.
  for (const [group, resource, path] of [
    ['apps', 'deployments', ['spec', 'template', 'spec']],
    ['extensions', 'deployments', undefined],
    ['apps', 'deployments', ['spec', 'template', 'spec']],
    ['', 'pods', ['spec']],
    ['apps', 'pods', undefined],
    ['', 'pods', ['spec']],
  ] as const)
    assert.deepEqual(podSpecPath(gvr(group, resource)), path, `${group}/${resource}`);
});

const podRequest = { resource: { group: '', version: 'v1', resource: 'pods' } };
const pod = (spec: unknown) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec });

test('hostile shapes are refused with the field, never a crash', () => {
  const bad: Array<[unknown, string, RegExp]> = [
    ['a pod', 'object', /must be an object/],
    [{ spec: 'x' }, 'spec', /must be an object/],
    [pod({ containers: 'nginx' }), 'spec.containers', /must be a list/],
    [pod({ containers: { 0: { image: 'nginx' } } }), 'spec.containers', /must be a list/],
    [pod({ containers: [null] }), 'spec.containers[0]', /must be an object/],
    [
      pod({ containers: [{ name: 'a', image: 'nginx' }, 'nginx'] }),
      'spec.containers[1]',
      /must be an object/,
    ],
    [pod({ containers: [{ image: ['nginx'] }] }), 'spec.containers[0].image', /must be a string, got a list/],
    [
      pod({ containers: [{ image: { toString: 'x' } }] }),
      'spec.containers[0].image',
      /must be a string, got object/,
    ],
    [pod({ initContainers: [{ image: 5 }] }), 'spec.initContainers[0].image', /must be a string, got number/],
    [pod({ containers: [{ image: 'x'.repeat(5000) }] }), 'spec.containers[0].image', /longer than 4096/],
    [pod({ volumes: [{ name: 'v', image: 'nginx' }] }), 'spec.volumes[0].image', /must be an object/],
    [
      pod({ volumes: [{ name: 'v', image: { reference: 7 } }] }),
      'spec.volumes[0].image.reference',
      /must be a string/,
    ],
    [pod({ volumes: 'x' }), 'spec.volumes', /must be a list/],
  ];
  for (const [object, field, why] of bad) {
    assert.throws(
      () => imageSites(podRequest, object),
      (e: { code?: string; message?: string; details?: { field?: string } }) =>
        e.code === OBJECT_INVALID && e.details?.field === field && why.test(e.message ?? ''),
      field,
    );
  }
  const deployment = { resource: { group: 'apps', version: 'v1', resource: 'deployments' } };
  assert.throws(() => imageSites(deployment, { spec: { template: [] } }), {
    code: OBJECT_INVALID,
    message: /^spec\.template: must be an object/,
  });
});

test('absent parts are no sites: no spec, empty template, empty image (the apiserver validates those)', () => {
  assert.deepEqual(imageSites(podRequest, pod(undefined)), []);
  assert.deepEqual(imageSites(podRequest, pod({})), []);
  assert.deepEqual(
    imageSites(
      podRequest,
      pod({ containers: [{ name: 'a' }, { name: 'b', image: '' }], volumes: [{ name: 'v', emptyDir: {} }] }),
    ),
    [],
  );
  const cronjob = { resource: { group: 'batch', version: 'v1', resource: 'cronjobs' } };
  assert.deepEqual(imageSites(cronjob, { spec: { jobTemplate: null } }), []);
});

test('10,000 containers: refused at once with a clear error, before reading them', () => {
  const containers = Array.from({ length: 10_000 }, (_, i) => ({ name: `c${i}`, image: `nginx:${i}` }));
  // Counted, not read: no container's image is looked at (asserted by reads, not by a stopwatch).
  let reads = 0;
  const watched = containers.map((c) => ({
    get image() {
      reads++;
      return c.image;
    },
  }));
  assert.throws(() => imageSites(podRequest, pod({ containers: watched })), {
    code: TOO_MANY_IMAGES,
    message: `spec: 10000 containers, more than the ${MAX_IMAGE_SITES} sigward checks`,
  });
  assert.equal(reads, 0);
  const volumes = Array.from({ length: MAX_IMAGE_SITES }, (_, i) => ({
    name: `v${i}`,
    image: { reference: `nginx:${i}` },
  }));
  assert.throws(() => imageSites(podRequest, pod({ containers: [{ image: 'nginx' }], volumes })), {
    code: TOO_MANY_IMAGES,
  });
  assert.equal(
    imageSites(podRequest, pod({ containers: containers.slice(0, MAX_IMAGE_SITES) })).length,
    MAX_IMAGE_SITES,
  );
  assert.equal(
    imageSites(podRequest, pod({ containers: containers.slice(0, 20) }), { maxSites: 20 }).length,
    20,
  );
  assert.throws(
    () => imageSites(podRequest, pod({ containers: containers.slice(0, 21) }), { maxSites: 20 }),
    { code: TOO_MANY_IMAGES },
  );
});

test('changedSites: new or different images at a field', () => {
  const s = (field: string, image: string) => ({ field, image, kind: 'container' as const, template: false });
  const old = [s('spec.containers[0].image', 'a:1'), s('spec.containers[1].image', 'b:1')];
  assert.deepEqual(changedSites(old, old), []);
  assert.deepEqual(changedSites([s('spec.containers[0].image', 'a:2'), old[1]!], old), [
    s('spec.containers[0].image', 'a:2'),
  ]);
  assert.deepEqual(changedSites([...old, s('spec.ephemeralContainers[0].image', 'busybox')], old), [
    s('spec.ephemeralContainers[0].image', 'busybox'),
  ]);
  // Swapped order: both fields now hold another image, both are checked.
  assert.equal(
    changedSites([s('spec.containers[0].image', 'b:1'), s('spec.containers[1].image', 'a:1')], old).length,
    2,
  );
});

test('jsonPointer: field path → RFC 6901', () => {
  assert.equal(jsonPointer('spec.containers[0].image'), '/spec/containers/0/image');
  assert.equal(
    jsonPointer('spec.jobTemplate.spec.template.spec.initContainers[12].image'),
    '/spec/jobTemplate/spec/template/spec/initContainers/12/image',
  );
  assert.equal(jsonPointer('spec.volumes[3].image.reference'), '/spec/volumes/3/image/reference');
});
