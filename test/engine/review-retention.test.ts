// What a review keeps while its images are verified: its answer reads a few fields of the request (uid,
// kind, operation, user, namespace and name, the object's apiVersion, name and uid), and nothing else
// of the AdmissionReview stays reachable from the engine meanwhile. A real Pod's review is several KiB
// of parsed JSON; under concurrency whatever a review holds through its registry round trips is
// promoted to the old generation (docs/performance.md "Twelfth session").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Decider } from '../../src/engine/decide.ts';
import { ReviewEngine } from '../../src/engine/review.ts';
import type { AdmissionFinding, SignatureVerifier } from '../../src/engine/ports.ts';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import { collectionWatch, gate } from '../support/collected.ts';
import { prodRoot } from '../sigstore/ext.ts';
import { clusterPolicy, kubewardenAuthority, responseOf } from './harness.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const IMAGE = `registry.test/apps/web@${DIGEST}`;

/** An UPDATE of a Pod that changes its image, with everything a real review carries around it. */
function podUpdate(uid: string) {
  const pod = (image: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'apps', uid: 'pod-uid-1', labels: { app: 'web' } },
    spec: { containers: [{ name: 'app', image, env: [{ name: 'MODE', value: 'prod' }] }] },
  });
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'apps',
      name: 'web',
      operation: 'UPDATE',
      userInfo: { username: 'tester', groups: ['system:authenticated'] },
      object: pod(IMAGE),
      oldObject: pod('registry.test/apps/web:old'),
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'UpdateOptions' },
    },
  };
}

/** A verifier that finds no signature, once `wait()` lets it answer. */
function unsignedAfter(wait: () => Promise<void>): SignatureVerifier {
  return {
    verify: async ({ image }) => {
      await wait();
      return {
        image: `${image.repository.registry}/${image.repository.repository}@${image.digest}`,
        digest: image.digest,
        status: 'unsigned',
        code: 'NO_SIGNATURES',
        message: 'no signatures found',
        signatures: [],
      };
    },
  };
}

test('while its image is verified, a review keeps neither the object, its old version nor the options; the answer and the finding are those of a review answered at once', async () => {
  const held = gate();
  const findings: AdmissionFinding[] = [];
  const snapshot = buildSnapshot([clusterPolicy('signed', ['registry.test/**'], [kubewardenAuthority()])]);
  const engine = new ReviewEngine({
    decider: new Decider(
      {
        resolver: { resolveDigest: () => Promise.reject(new Error('the image names its digest')) },
        verifier: unsignedAfter(held.wait),
        trustRoots: { trustRoot: (name) => (name === 'public-good' ? prodRoot() : undefined) },
      },
      { deadlineMs: 60_000, evaluation: { unmatched: 'deny', errors: 'deny' } },
    ),
    policies: { current: () => snapshot },
    skip: { ownNamespace: 'sigward', scope: 'opt-out' },
    observer: { finding: (finding) => findings.push(finding) },
  });
  const watch = collectionWatch();
  const watched = (body: ReturnType<typeof podUpdate>): unknown => {
    watch.watch(body, 'the AdmissionReview');
    watch.watch(body.request.object, 'the object');
    watch.watch(body.request.oldObject, 'its old version');
    watch.watch(body.request.options, 'the options');
    return body;
  };
  const answering = engine.handleNow(watched(podUpdate('review-1')), 'validate');
  assert.ok(answering instanceof Promise, 'the image is verified');
  await held.waiting;
  const kept = ['its old version', 'the AdmissionReview', 'the object', 'the options'];
  assert.deepEqual(await watch.collectedOf(kept), kept);
  held.release();
  const first = await answering;

  // The same review again: answered at once from the cache, with the whole request in hand.
  const again = engine.handleNow(podUpdate('review-2'), 'validate');
  assert.ok(!(again instanceof Promise), 'answered from the cache');
  assert.ok(first.ok && again.ok);
  const { uid: _uid1, ...answer } = responseOf(first);
  const { uid: _uid2, ...cachedAnswer } = responseOf(again);
  assert.equal(answer.allowed, false);
  assert.match(answer.status?.message ?? '', /SIGNATURE_MISSING|no signature/i);
  assert.deepEqual(answer, cachedAnswer);
  const { uid: _u1, decisions: _d1, review: _r1, json: _j1, ...line } = first;
  const { uid: _u2, decisions: _d2, review: _r2, json: _j2, ...cachedLine } = again;
  assert.deepEqual(line, cachedLine);
  assert.deepEqual(line, {
    ok: true,
    decision: 'deny',
    kind: 'Pod',
    operation: 'UPDATE',
    user: 'tester',
    object: 'apps/web',
    reasons: ['SIGNATURE_MISSING'],
    summary: answer.status?.message,
  });
  assert.equal(findings.length, 2);
  assert.deepEqual(findings[0], findings[1]);
  assert.deepEqual(
    { ...findings[0], failures: findings[0]?.failures.length },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      namespace: 'apps',
      name: 'web',
      uid: 'pod-uid-1',
      outcome: 'deny',
      failures: 1,
    },
  );
});
