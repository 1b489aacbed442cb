// What a review reports, through the real EventRecorder, over a real registry with real signatures:
// a denied Pod and a warned Deployment each get their Event regarding the object named in the review
// (its name, kind and uid), with every failed image and policy in the note; an admitted workload gets
// none; a dry run gets none, whatever its decision (sideEffects: NoneOnDryRun).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import { EventRecorder } from '../../src/kube/events.ts';
import { eventsApi } from '../kube/events-api.ts';
import {
  clusterPolicy,
  engineUnderTest,
  kubewardenAuthority,
  pemOf,
  podReview,
  pushFixtures,
} from './harness.ts';
import type { Fixtures } from './harness.ts';

let registry: DockerRegistry;
let fx: Fixtures;
let host: string;

before(async () => {
  registry = await startDockerRegistry();
  host = registry.host;
  fx = await pushFixtures(host);
});
after(async () => {
  await registry.stop();
});

/** apps/** must be signed with the CI key (enforce) and, says a warn policy, by kubewarden's workflow. */
function engineWithEvents() {
  const fake = eventsApi();
  const recorder = new EventRecorder(fake.api, { instance: 'test' });
  const e = engineUnderTest(
    [
      clusterPolicy(
        'ci-key',
        ['127.0.0.1:*/apps/**'],
        [{ name: 'ci-key', key: { data: pemOf(fx.signer.publicKey) }, insecureIgnoreTlog: true }],
      ),
      clusterPolicy('also-workflow', ['127.0.0.1:*/apps/**'], [kubewardenAuthority()], { mode: 'warn' }),
    ],
    {},
    { finding: (f) => recorder.record(f) },
  );
  return { e, fake };
}

function deploymentReview(image: string, options: { dryRun?: boolean } = {}) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'review-deployment',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      namespace: 'apps',
      name: 'api',
      operation: 'CREATE',
      userInfo: { username: 'tester' },
      ...(options.dryRun ? { dryRun: true } : {}),
      object: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'api', namespace: 'apps', uid: '0b5e7a58-aaaa-4bbb-8ccc-ddddeeeeffff' },
        spec: { template: { spec: { containers: [{ name: 'api', image }] } } },
      },
    },
  };
}

describe('findings become Events', () => {
  test('a denied Pod: ImageVerificationDenied (and the warn failures as ImageVerificationWarning)', async () => {
    const { e, fake } = engineWithEvents();
    const result = await e.review(podReview([fx.unsigned.tagged(host)]));
    assert.equal(result.decision, 'deny');
    assert.deepEqual(
      fake.events.map((ev) => `${ev.body.reason} ${ev.body.regarding.kind}/${ev.body.regarding.name}`),
      ['ImageVerificationDenied Pod/web', 'ImageVerificationWarning Pod/web'],
    );
    const [denied, warned] = fake.events.map((ev) => ev.body.note);
    assert.match(
      denied ?? '',
      /^denied: image 127\.0\.0\.1:\d+\/apps\/unsigned:v1 in spec\.containers\[0\]\.image: policy ci-key: .*\[SIGNATURE_MISSING\]$/,
    );
    assert.match(
      warned ?? '',
      /^warning: image 127\.0\.0\.1:\d+\/apps\/unsigned:v1 in spec\.containers\[0\]\.image: policy also-workflow: .*\[SIGNATURE_MISSING\]$/,
    );
    await e.close();
  });

  test('a warned Deployment: ImageVerificationWarning regarding it, with its uid', async () => {
    const { e, fake } = engineWithEvents();
    const result = await e.review(deploymentReview(fx.keySigned.tagged(host)));
    assert.equal(result.decision, 'warn');
    assert.equal(fake.events.length, 1);
    const event = fake.events[0]!.body;
    assert.equal(event.reason, 'ImageVerificationWarning');
    assert.deepEqual(event.regarding, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: 'apps',
      name: 'api',
      uid: '0b5e7a58-aaaa-4bbb-8ccc-ddddeeeeffff',
    });
    assert.match(
      event.note,
      /^warning: image 127\.0\.0\.1:\d+\/apps\/api:v1 in spec\.template\.spec\.containers\[0\]\.image: policy also-workflow: .*signed with a key; expected a signature by subject "[^"]+" from issuer "https:\/\/token\.actions\.githubusercontent\.com" \[KEY_MISMATCH\]$/,
    );
    await e.close();
  });

  test('a dry run gets no Event, denied or warned; the mutating call none either', async () => {
    const { e, fake } = engineWithEvents();
    assert.equal((await e.review(podReview([fx.unsigned.tagged(host)], { dryRun: true }))).decision, 'deny');
    assert.equal(
      (await e.review(deploymentReview(fx.keySigned.tagged(host), { dryRun: true }))).decision,
      'warn',
    );
    await e.review(podReview([fx.unsigned.tagged(host)]), 'mutate');
    assert.deepEqual(fake.events, []);
    await e.close();
  });
});
