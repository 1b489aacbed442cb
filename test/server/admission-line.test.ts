// The admission log line of a review answered from the caches, through the app over a real registry
// with a real signature: one line at info with every documented field (and nothing failed: no reasons,
// no summary); written only when its level is enabled, while the metric counts every review.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../src/server/app.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { counterValue } from '../../src/telemetry/metrics.ts';
import { startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import {
  engineUnderTest,
  kubewardenPolicy,
  OTHER_KUBEWARDEN_WORKFLOW,
  podReview,
  pushFixtures,
} from '../engine/harness.ts';
import { kubewarden } from '../sigstore/discover-fixtures.ts';
import { turnEnd } from '../support/turn-end.ts';

let registry: DockerRegistry;
before(async () => {
  registry = await startDockerRegistry();
  await pushFixtures(registry.host);
});
after(async () => {
  await registry.stop();
});

/** The app on a real engine, its log lines (parsed) and its engine. */
function logged(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  const e = engineUnderTest([kubewardenPolicy()]);
  const app = buildApp({
    handleReview: e.engine.handleNow,
    readiness: () => ({ ready: true, reasons: [] }),
    metrics: e.metrics,
    logger: createLogger({ destination: sink, level }),
  });
  const post = async (review: object): Promise<Record<string, unknown>> => {
    const r = await app.inject({
      method: 'POST',
      url: '/validate',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(review),
    });
    assert.equal(r.statusCode, 200);
    await turnEnd(); // the review's line and metrics are written after the turn's responses
    return r.json().response as Record<string, unknown>;
  };
  const admissionLines = () => lines.filter((l) => l['msg'] === 'admission');
  return { e, app, post, admissionLines };
}

describe('the admission line of a cached review', () => {
  test('one line at info: route, decision, kind, operation, uid, user, object and ms, in that order', async () => {
    const { e, post, admissionLines } = logged('info');
    try {
      const image = `${registry.host}/signed/kubewarden@${kubewarden.digest}`;
      await post(podReview([image])); // verified
      const review = podReview([image]);
      const response = await post(review);
      assert.deepEqual(response, {
        uid: review.request.uid,
        allowed: true,
        auditAnnotations: { decision: 'allow' },
      });
      assert.equal(await e.verifications(), 1, 'the second review came from the cache');
      const lines = admissionLines();
      assert.equal(lines.length, 2, 'one line per review');
      const line = lines[1]!;
      assert.deepEqual(Object.keys(line), [
        'level',
        'time',
        'service',
        'component',
        'route',
        'decision',
        'kind',
        'operation',
        'uid',
        'user',
        'object',
        'ms',
        'msg',
      ]);
      assert.deepEqual(
        { ...line, time: undefined, ms: undefined },
        {
          level: 30,
          time: undefined,
          service: 'sigward',
          component: 'admission',
          route: 'validate',
          decision: 'allow',
          kind: 'Pod',
          operation: 'CREATE',
          uid: review.request.uid,
          user: 'tester',
          object: 'apps/web',
          ms: undefined,
          msg: 'admission',
        },
      );
      assert.equal(typeof line['ms'], 'number');
      assert.ok((line['ms'] as number) >= 0);
      assert.equal(new Date(String(line['time'])).toISOString(), line['time']);
    } finally {
      await e.close();
    }
  });

  test('a denial: the cached reviews answer and log exactly what the verifying one did, but their own uid', async () => {
    const { e, app, admissionLines } = logged('info');
    try {
      e.setPolicies([kubewardenPolicy({ subject: OTHER_KUBEWARDEN_WORKFLOW })]);
      const image = `${registry.host}/signed/kubewarden@${kubewarden.digest}`;
      const replies = [];
      for (let i = 0; i < 3; i++) {
        const review = podReview([image]);
        const r = await app.inject({
          method: 'POST',
          url: '/validate',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(review),
        });
        await turnEnd();
        assert.equal(r.statusCode, 200);
        replies.push({ uid: review.request.uid, type: r.headers['content-type'], body: r.body });
      }
      assert.equal(await e.verifications(), 1, 'verified once, then answered from the caches');
      const first = replies[0]!;
      assert.match(first.body, /"allowed":false,"status":\{"code":403/);
      assert.match(first.body, /\[IDENTITY_MISMATCH\]/);
      const lines = admissionLines();
      assert.equal(lines.length, 3);
      assert.deepEqual(lines[0]!['reasons'], ['IDENTITY_MISMATCH']);
      assert.match(String(lines[0]!['summary']), /expected subject/);
      const same = (line: Record<string, unknown>) => ({
        ...line,
        uid: undefined,
        time: undefined,
        ms: undefined,
      });
      for (const [i, reply] of replies.entries()) {
        assert.equal(reply.type, first.type);
        assert.equal(reply.body, first.body.replace(first.uid, reply.uid));
        assert.equal(JSON.parse(reply.body).response.uid, reply.uid);
        assert.equal(lines[i]!['uid'], reply.uid);
        assert.deepEqual(same(lines[i]!), same(lines[0]!));
      }
    } finally {
      await e.close();
    }
  });

  test('at level warn no admission line is written, and every review is still counted', async () => {
    const { e, post, admissionLines } = logged('warn');
    try {
      const image = `${registry.host}/signed/kubewarden@${kubewarden.digest}`;
      await post(podReview([image]));
      await post(podReview([image]));
      assert.deepEqual(admissionLines(), []);
      assert.equal(
        await counterValue(e.metrics.admissions, {
          decision: 'allow',
          kind: 'Pod',
          route: 'validate',
          operation: 'CREATE',
        }),
        2,
      );
    } finally {
      await e.close();
    }
  });

  test('a skipped review is logged at debug only', async () => {
    for (const level of ['debug', 'info']) {
      const { e, post, admissionLines } = logged(level);
      try {
        await post(podReview(['nginx:1.27'], { namespace: 'sigward' }));
        assert.deepEqual(
          admissionLines().map((l) => [l['level'], l['decision'], l['object']]),
          level === 'debug' ? [[20, 'skip', 'sigward/web']] : [],
        );
      } finally {
        await e.close();
      }
    }
  });
});
