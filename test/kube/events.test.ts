// The Event recorder against an events.k8s.io/v1 API with the apiserver's validation (events-api.ts),
// on a clock the test moves: one Warning event per finding regarding the workload, the same event on
// the same object once per dedup window, one global token bucket for all objects (what it drops is
// counted), notes within the API's 1024 bytes however many or long the failures, and a refusal by the
// apiserver counted and reported, never thrown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventRecorder, eventNote, type DropCause, type WorkloadFinding } from '../../src/kube/events.ts';
import { eventsApi } from './events-api.ts';

const finding = (name: string, overrides: Partial<WorkloadFinding> = {}): WorkloadFinding => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  namespace: 'apps',
  name,
  outcome: 'deny',
  failures: [
    'image registry.example/apps/web:v1 in spec.template.spec.containers[0].image: policy release-signed: no signatures found [SIGNATURE_MISSING]',
  ],
  ...overrides,
});

function recorder(options: { burst?: number; perSecond?: number; dedupMs?: number } = {}) {
  const fake = eventsApi();
  let now = 0;
  const dropped: DropCause[] = [];
  const errors: unknown[] = [];
  const events = new EventRecorder(fake.api, {
    instance: 'sigward-7d9f',
    now: () => now,
    onDropped: (cause) => dropped.push(cause),
    onError: (error) => errors.push(error),
    ...options,
  });
  return { fake, events, dropped, errors, advance: (ms: number) => (now += ms) };
}

test('a denied workload: one Warning event regarding it, naming image, policy and reason code', () => {
  const { fake, events } = recorder();
  events.record(finding('web', { uid: '6f1c0d52-1111-4222-8333-944455556666' }));
  events.record(finding('web', { outcome: 'warn' }));
  events.record(finding('web', { outcome: 'audit' }));
  assert.equal(fake.events.length, 3);
  const [denied, warned, audited] = fake.events.map((e) => e.body);
  assert.equal(fake.events[0]?.namespace, 'apps');
  assert.deepEqual(denied?.regarding, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: 'apps',
    name: 'web',
    uid: '6f1c0d52-1111-4222-8333-944455556666',
  });
  assert.equal(denied?.type, 'Warning');
  assert.equal(denied?.reason, 'ImageVerificationDenied');
  assert.equal(denied?.action, 'Deny');
  assert.equal(
    denied?.note,
    'denied: image registry.example/apps/web:v1 in spec.template.spec.containers[0].image: policy release-signed: no signatures found [SIGNATURE_MISSING]',
  );
  assert.equal(denied?.reportingController, 'sigward.dev/webhook');
  assert.equal(denied?.reportingInstance, 'sigward-7d9f');
  assert.match(denied?.metadata.name ?? '', /^web\.[0-9a-f]+$/);
  assert.equal(warned?.reason, 'ImageVerificationWarning');
  assert.equal(warned?.action, 'Admit');
  assert.match(warned?.note ?? '', /^warning: image /);
  assert.equal(audited?.reason, 'ImageVerificationAudit');
  assert.match(audited?.note ?? '', /^audit: image /);
});

test('an object without a name yet, or with the longest name: a valid event name, regarding as given', () => {
  const { fake, events, errors } = recorder();
  events.record(finding('', { kind: 'Pod', apiVersion: 'v1' }));
  events.record(finding(`${'a'.repeat(200)}.${'b'.repeat(52)}`));
  assert.deepEqual(errors, []);
  assert.equal(fake.events.length, 2);
  assert.match(fake.events[0]?.body.metadata.name ?? '', /^pod\.[0-9a-f]+$/);
  assert.equal(fake.events[0]?.body.regarding.name, undefined);
  assert.ok((fake.events[1]?.body.metadata.name.length ?? 0) <= 253);
  assert.equal(fake.events[1]?.body.regarding.name, `${'a'.repeat(200)}.${'b'.repeat(52)}`);
});

test('dedup: the same event on the same object once per window; another object or reason is its own', () => {
  const { fake, events, dropped, advance } = recorder({ dedupMs: 60_000 });
  for (let i = 0; i < 5; i++) events.record(finding('web'));
  events.record(finding('api'));
  events.record(finding('web', { outcome: 'warn' }));
  assert.equal(fake.events.length, 3);
  assert.deepEqual(dropped, ['duplicate', 'duplicate', 'duplicate', 'duplicate']);
  advance(59_999);
  events.record(finding('web'));
  assert.equal(fake.events.length, 3);
  advance(1);
  events.record(finding('web'));
  assert.equal(fake.events.length, 4);
});

test('global budget: a crash-looping controller gets `burst` events, then one per refill; drops counted', () => {
  const { fake, events, dropped, advance } = recorder({ burst: 10, perSecond: 0.5 });
  // A ReplicaSet controller retrying: every Pod has a new generated name, so dedup cannot merge them.
  for (let i = 0; i < 100; i++) events.record(finding(`web-7d9f-${i}`, { kind: 'Pod', apiVersion: 'v1' }));
  assert.equal(fake.events.length, 10);
  assert.equal(dropped.filter((c) => c === 'rate-limited').length, 90);
  advance(1999);
  events.record(finding('web-7d9f-late-1', { kind: 'Pod', apiVersion: 'v1' }));
  assert.equal(fake.events.length, 10);
  advance(1);
  events.record(finding('web-7d9f-late-2', { kind: 'Pod', apiVersion: 'v1' }));
  assert.equal(fake.events.length, 11);
  // A dropped event was not remembered: once there is budget again it is written.
  advance(2000);
  events.record(finding('web-7d9f-late-1', { kind: 'Pod', apiVersion: 'v1' }));
  assert.equal(fake.events.length, 12);
  // An idle hour refills the bucket to its burst, no more.
  advance(3_600_000);
  for (let i = 0; i < 20; i++) events.record(finding(`db-${i}`));
  assert.equal(fake.events.length, 22);
});

test('note bounds: within 1024 bytes, whole failures first then (+N more); one huge failure is cut', () => {
  const { fake, events, errors } = recorder();
  const many = Array.from(
    { length: 40 },
    (_, i) =>
      `image registry.example/apps/ünïcödé-${i}:v1 in spec.containers[${i}].image: policy release-signed: expected subject "ci-✓", found subject "intrüder-🙂" [IDENTITY_MISMATCH]`,
  );
  events.record(finding('many', { failures: many }));
  events.record(finding('huge', { failures: [`image ${'🙂'.repeat(2000)} [SIGNATURE_MISSING]`, 'second'] }));
  assert.deepEqual(errors, []);
  const [manyNote, hugeNote] = fake.events.map((e) => e.body.note);
  assert.ok(Buffer.byteLength(manyNote ?? '') <= 1024, `${Buffer.byteLength(manyNote ?? '')} bytes`);
  const kept = (manyNote ?? '')
    .replace(/^denied: /, '')
    .replace(/ \(\+\d+ more\)$/, '')
    .split('; ');
  assert.deepEqual(kept, many.slice(0, kept.length), 'whole failures, in order');
  assert.match(manyNote ?? '', new RegExp(` \\(\\+${40 - kept.length} more\\)$`));
  assert.ok(Buffer.byteLength(hugeNote ?? '') <= 1024);
  assert.match(
    hugeNote ?? '',
    /^denied: image 🙂+… \(\+1 more\)$/u,
    'cut between characters, never inside one',
  );
  assert.equal(eventNote('denied', ['a', 'b']), 'denied: a; b');
});

test('an apiserver refusal is counted and reported, never thrown', async () => {
  const { fake, events, dropped, errors } = recorder();
  fake.failWith(Object.assign(new Error('events.events.k8s.io is forbidden'), { code: 403 }));
  assert.doesNotThrow(() => events.record(finding('web')));
  for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(dropped, ['failed']);
  assert.match(String(errors[0]), /forbidden/);
});

test('a finding without failures writes nothing', () => {
  const { fake, events, dropped } = recorder();
  events.record(finding('web', { failures: [] }));
  assert.equal(fake.events.length, 0);
  assert.deepEqual(dropped, []);
});

test('a running Pod failing the re-check: ImageRecheckFailed regarding the Pod, action Recheck', () => {
  const { fake, events } = recorder();
  events.record(finding('web-5d8-x2', { apiVersion: 'v1', kind: 'Pod', uid: 'u1', outcome: 'recheck' }));
  const [event] = fake.events.map((e) => e.body);
  assert.equal(event?.reason, 'ImageRecheckFailed');
  assert.equal(event?.action, 'Recheck');
  assert.equal(event?.type, 'Warning');
  assert.deepEqual(event?.regarding, {
    apiVersion: 'v1',
    kind: 'Pod',
    namespace: 'apps',
    name: 'web-5d8-x2',
    uid: 'u1',
  });
  assert.match(event?.note ?? '', /^running image no longer passes: image registry\.example\/apps\/web:v1 /);
});
