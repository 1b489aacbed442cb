// The mutating webhook's JSON patch: tags pinned to the verified digest (tag kept), Pods only by
// default, never an image already pinned, exempt images left alone, a `test` guarding each replace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { digestPatch, patchResponse, pinnedImage } from '../../src/admission/patch.ts';
import { parseAdmissionReview } from '../../src/admission/review.ts';
import { imageSites } from '../../src/admission/sites.ts';
import { fixture } from './fixtures.ts';

const D = `sha256:${'a'.repeat(64)}`;

test('pinnedImage keeps the text and the tag, adds the digest', () => {
  assert.equal(pinnedImage('nginx:1.27', D), `nginx:1.27@${D}`);
  assert.equal(pinnedImage('nginx', D), `nginx@${D}`);
  assert.equal(pinnedImage('localhost:5000/team/app:v1', D), `localhost:5000/team/app:v1@${D}`);
  assert.equal(pinnedImage(`nginx:1.27@sha256:${'b'.repeat(64)}`, D), undefined, 'already pinned: untouched');
  assert.equal(pinnedImage('Not A Ref', D), undefined);
  assert.throws(() => pinnedImage('nginx', 'sha256:short'), { code: 'ADMISSION_DIGEST_INVALID' });
  assert.throws(() => pinnedImage('nginx', 'latest'), { code: 'ADMISSION_DIGEST_INVALID' });
});

test('a Pod: every unpinned site patched, test before replace', () => {
  const r = parseAdmissionReview(fixture('pod-create-image-volume')).request;
  const pins = imageSites(r, r.object).map((s) => ({ ...s, digest: D }));
  assert.deepEqual(digestPatch(pins), [
    { op: 'test', path: '/spec/volumes/0/image/reference', value: 'registry.example.com/models/llm:q4' },
    {
      op: 'replace',
      path: '/spec/volumes/0/image/reference',
      value: `registry.example.com/models/llm:q4@${D}`,
    },
  ]);
  const w = parseAdmissionReview(fixture('pod-create-wrong-signer')).request;
  const ops = digestPatch(imageSites(w, w.object).map((s) => ({ ...s, digest: D })));
  assert.deepEqual(
    ops.filter((o) => o.op === 'replace').map((o) => [o.path, o.value]),
    [
      ['/spec/initContainers/0/image', `registry.example.com/apps/migrate:2.0@${D}`],
      ['/spec/containers/0/image', `registry.example.com/apps/web:3.1@${D}`],
      ['/spec/containers/1/image', `prom/statsd-exporter:v0.26.0@${D}`],
    ],
  );
});

test('templates only on request (GitOps tools fight rewritten templates)', () => {
  const r = parseAdmissionReview(fixture('cronjob-create')).request;
  const pins = imageSites(r, r.object).map((s) => ({ ...s, digest: D }));
  assert.deepEqual(digestPatch(pins), []);
  assert.deepEqual(digestPatch(pins, { templates: true }), [
    {
      op: 'test',
      path: '/spec/jobTemplate/spec/template/spec/containers/0/image',
      value: 'registry.example.com/apps/report:7',
    },
    {
      op: 'replace',
      path: '/spec/jobTemplate/spec/template/spec/containers/0/image',
      value: `registry.example.com/apps/report:7@${D}`,
    },
  ]);
});

test('exempt images (a mesh sidecar injected by tag) are left alone', () => {
  const pins = [
    { field: 'spec.containers[0].image', image: 'app:1', template: false, digest: D },
    { field: 'spec.containers[1].image', image: 'istio/proxyv2:1.22.0', template: false, digest: D },
  ];
  const ops = digestPatch(pins, { exempt: (image) => image.startsWith('istio/') });
  assert.deepEqual(
    ops.map((o) => o.path),
    ['/spec/containers/0/image', '/spec/containers/0/image'],
  );
});

test('patchResponse: base64 JSONPatch, or a plain allow when there is nothing to patch', () => {
  const ops = digestPatch([
    { field: 'spec.containers[0].image', image: 'nginx:1.27', template: false, digest: D },
  ]);
  const r = patchResponse('u', ops);
  assert.equal(r.allowed, true);
  assert.equal(r.patchType, 'JSONPatch');
  assert.deepEqual(JSON.parse(Buffer.from(r.patch ?? '', 'base64').toString('utf8')), ops);
  assert.deepEqual(patchResponse('u', []), { uid: 'u', allowed: true });
});
