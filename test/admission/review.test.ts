// The AdmissionReview validator: every sample the apiserver could send parses; garbage is refused
// with the field and the reason, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseAdmissionReview,
  jsonString,
  ReplyTemplate,
  REVIEW_INVALID,
  reviewResponse,
  uidOf,
} from '../../src/admission/review.ts';
import type { AdmissionResponse } from '../../src/admission/review.ts';
import { FIXTURE_NAMES, fixture } from './fixtures.ts';

test('every sample review parses, keeping what the webhook reads', () => {
  assert.ok(FIXTURE_NAMES.length >= 15);
  for (const name of FIXTURE_NAMES) {
    const review = parseAdmissionReview(fixture(name));
    assert.equal(review.kind, 'AdmissionReview', name);
    assert.match(review.request.uid, /^[0-9a-f-]{36}$/, name);
  }
  const r = parseAdmissionReview(fixture('pod-ephemeralcontainers')).request;
  assert.equal(r.operation, 'UPDATE');
  assert.equal(r.subResource, 'ephemeralcontainers');
  assert.deepEqual(r.resource, { group: '', version: 'v1', resource: 'pods' });
  assert.equal(r.namespace, 'default');
  assert.ok(r.oldObject !== undefined);
  assert.equal(parseAdmissionReview(fixture('pod-create-dry-run')).request.dryRun, true);
  assert.equal(parseAdmissionReview(fixture('pod-create-signed')).request.dryRun, undefined);
  // DELETE carries object: null; that is fine.
  assert.equal(parseAdmissionReview(fixture('pod-delete')).request.object, undefined);
});

function refused(body: unknown, field: string, why: RegExp): void {
  assert.throws(
    () => parseAdmissionReview(body),
    (e: { code?: string; message?: string; details?: { field?: string } }) => {
      assert.equal(e.code, REVIEW_INVALID);
      assert.equal(e.details?.field, field);
      assert.match(e.message ?? '', why);
      assert.ok((e.message ?? '').length < 400);
      return true;
    },
  );
}

test('malformed envelopes are refused with the field', () => {
  const good = () => fixture('pod-create-signed');
  refused(null, 'body', /must be a JSON object/);
  refused([], 'body', /must be a JSON object/);
  refused('AdmissionReview', 'body', /must be a JSON object/);
  refused(
    { ...good(), apiVersion: 'admission.k8s.io/v1beta1' },
    'apiVersion',
    /must be admission\.k8s\.io\/v1/,
  );
  refused({ ...good(), kind: 'Pod' }, 'kind', /must be AdmissionReview/);
  refused({ ...good(), request: undefined }, 'request', /must be an object/);
  refused({ ...good(), request: [] }, 'request', /must be an object/);
  const req = (patch: Record<string, unknown>) => {
    const b = good();
    return { ...b, request: { ...b.request, ...patch } };
  };
  refused(req({ uid: undefined }), 'request.uid', /is required/);
  refused(req({ uid: '' }), 'request.uid', /must not be empty/);
  refused(req({ uid: 42 }), 'request.uid', /must be a string, got number/);
  refused(req({ uid: 'u'.repeat(129) }), 'request.uid', /longer than 128/);
  refused(req({ operation: 'PATCH' }), 'request.operation', /one of CREATE, UPDATE, DELETE, CONNECT/);
  refused(req({ operation: undefined }), 'request.operation', /one of/);
  refused(req({ kind: 'Pod' }), 'request.kind', /must be an object/);
  refused(req({ kind: { group: '', version: 'v1' } }), 'request.kind.kind', /is required/);
  refused(
    req({ resource: { group: 7, version: 'v1', resource: 'pods' } }),
    'request.resource.group',
    /must be a string/,
  );
  refused(req({ resource: null }), 'request.resource', /must be an object/);
  refused(req({ namespace: 'n'.repeat(64) }), 'request.namespace', /longer than 63/);
  refused(req({ subResource: ['status'] }), 'request.subResource', /must be a string/);
  refused(req({ dryRun: 'true' }), 'request.dryRun', /must be a boolean/);
  refused(req({ userInfo: 'admin' }), 'request.userInfo', /must be an object/);
  refused(req({ userInfo: { username: 7 } }), 'request.userInfo.username', /must be a string, got number/);
  refused(req({ userInfo: { username: null } }), 'request.userInfo.username', /must be a string, got null/);
  refused(req({ object: undefined }), 'request.object', /is required for CREATE/);
  refused(req({ object: 'pod' }), 'request.object', /must be an object/);
  refused(req({ object: [] }), 'request.object', /must be an object/);
  refused(req({ object: { metadata: 'x' } }), 'request.object.metadata', /must be an object/);
  refused(
    req({ object: { metadata: { labels: { a: 1 } } } }),
    'request.object.metadata.labels["a"]',
    /must be a string/,
  );
  refused(req({ operation: 'UPDATE', oldObject: null }), 'request.oldObject', /is required for UPDATE/);
});

test('prototype-pollution keys are data, not behaviour', () => {
  const body = JSON.parse(
    JSON.stringify(fixture('pod-create-signed')).replace(
      '"request":{',
      '"request":{"__proto__":{"allowed":true},',
    ),
  );
  const review = parseAdmissionReview(JSON.parse(JSON.stringify(body)));
  assert.equal((review.request as unknown as Record<string, unknown>)['allowed'], undefined);
  assert.equal(({} as Record<string, unknown>)['allowed'], undefined);
});

test('uidOf reads a uid from anything, for error replies', () => {
  assert.equal(uidOf(fixture('pod-create-signed')), '705ab4f5-6393-11e8-b7cc-42010a800002');
  assert.equal(uidOf(null), '');
  assert.equal(uidOf({ request: { uid: 5 } }), '');
  assert.equal(uidOf({ request: { uid: 'x'.repeat(1000) } }), '');
});

test('reviewResponse wraps a response in the v1 envelope', () => {
  assert.deepEqual(reviewResponse({ uid: 'u', allowed: true }), {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'u', allowed: true },
  });
});

test('a reply template: the review and its JSON for any uid, as reviewResponse and JSON.stringify make them', () => {
  const responses: AdmissionResponse[] = [
    { uid: 'x', allowed: true, auditAnnotations: { decision: 'allow' } },
    {
      uid: 'x',
      allowed: false,
      status: { code: 403, reason: 'Forbidden', message: 'image "a" in spec: denied\u2028 [X]' },
      warnings: ['w1', 'wé 2'],
      auditAnnotations: { decision: 'deny', failures: 'deny: …' },
    },
    { uid: 'x', allowed: true, patch: 'W10=', patchType: 'JSONPatch' },
  ];
  const uids = ['', 'u-1', 'quote " and backslash \\', 'control \u0001\n', 'lone \ud800', 'émoji 🙂'];
  for (const response of responses) {
    const template = new ReplyTemplate(response);
    assert.equal(template.allowed, response.allowed);
    for (const uid of uids) {
      const review = reviewResponse({ ...response, uid });
      assert.deepEqual(reviewResponse(template.response(uid)), review);
      assert.deepEqual(Object.keys(template.response(uid)), Object.keys(response), 'the same field order');
      assert.equal(template.json(uid), JSON.stringify(review));
    }
  }
});

test("a reply template's responses share nothing one review's reader could change for the next", () => {
  const template = new ReplyTemplate({
    uid: 'x',
    allowed: false,
    status: { code: 403, reason: 'Forbidden', message: 'denied [X]' },
    warnings: ['w1'],
    auditAnnotations: { decision: 'deny', failures: 'deny: …' },
  });
  const first = template.response('a') as unknown as {
    status: { message: string };
    warnings: string[];
    auditAnnotations: Record<string, string>;
  };
  assert.throws(() => first.warnings.push('added'), TypeError);
  assert.throws(() => (first.status.message = 'changed'), TypeError);
  assert.throws(() => (first.auditAnnotations['decision'] = 'allow'), TypeError);
  const next = template.response('b');
  assert.deepEqual(next.warnings, ['w1']);
  assert.equal(next.status?.message, 'denied [X]');
  assert.equal(template.json('b'), JSON.stringify(reviewResponse(next)));
});

test('jsonString is JSON.stringify for every UTF-16 code unit, surrogate pairs and a UUID', () => {
  for (let c = 0; c <= 0xffff; c++) {
    const text = `a${String.fromCharCode(c)}b`;
    assert.equal(jsonString(text), JSON.stringify(text), `code unit ${c.toString(16)}`);
  }
  for (const text of ['', '😀', 'x\ud83d\ude00y', '\udc00\ud800', '0f8fad5b-d9cb-469f-a165-70867728950e'])
    assert.equal(jsonString(text), JSON.stringify(text));
});
