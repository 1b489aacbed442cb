// The HTTP face, driven with inject (and over real HTTPS for TLS): malformed, huge and wrongly typed
// bodies get a 400/413/415 with a clear message and never crash the server; a valid review goes to
// the engine; readiness, liveness and metrics answer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildApp } from '../../src/server/app.ts';
import type { AppDeps, Readiness } from '../../src/server/app.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { Decider } from '../../src/engine/decide.ts';
import { ReviewEngine } from '../../src/engine/review.ts';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import { Writable } from 'node:stream';
import { podReview } from '../engine/harness.ts';
import { cachedAllow } from '../support/cached-allow.ts';
import { collectionWatch, gate } from '../support/collected.ts';
import { injectAfterTurn } from '../support/turn-end.ts';

const quiet = new Writable({ write: (_c, _e, done) => done() });

function app(
  overrides: Partial<AppDeps> = {},
  ready: Readiness = { ready: true, reasons: [] },
  unmatched: 'allow' | 'deny' = 'allow',
  loaded = true,
) {
  const snapshot = buildSnapshot([]);
  const decider = new Decider(
    {
      resolver: { resolveDigest: () => Promise.reject(new Error('no registry here')) },
      verifier: { verify: () => Promise.reject(new Error('no registry here')) },
      trustRoots: { trustRoot: () => undefined },
    },
    { deadlineMs: 1000, evaluation: { unmatched, errors: 'deny' } },
  );
  const engine = new ReviewEngine({
    decider,
    policies: { current: () => (loaded ? snapshot : undefined) },
    skip: { ownNamespace: 'sigward', scope: 'opt-out' },
  });
  const metrics = createMetrics({ processMetrics: false });
  return {
    metrics,
    // Each injected request resolves once its admission line and metrics are written.
    app: injectAfterTurn(
      buildApp({
        handleReview: engine.handleNow,
        readiness: () => ready,
        metrics,
        logger: createLogger({ destination: quiet }),
        bodyLimitBytes: 64 * 1024,
        ...overrides,
      }),
    ),
  };
}

const post = (body: string, contentType = 'application/json') => ({
  method: 'POST' as const,
  url: '/validate',
  headers: { 'content-type': contentType },
  payload: body,
});

describe('bodies', () => {
  test('malformed JSON: 400 saying so', async () => {
    const { app: a } = app();
    const r = await a.inject(post('{"apiVersion": '));
    assert.equal(r.statusCode, 400);
    assert.match(r.json().error, /request body is not valid JSON/);
  });

  test('a body over the limit: 413 naming the limit', async () => {
    const { app: a } = app();
    const r = await a.inject(post(JSON.stringify({ pad: 'x'.repeat(70 * 1024) })));
    assert.equal(r.statusCode, 413);
    assert.equal(r.json().error, 'request body is larger than the limit of 65536 bytes');
  });

  test('not JSON at all: 415', async () => {
    const { app: a } = app();
    const r = await a.inject(post('hello', 'text/plain'));
    assert.equal(r.statusCode, 415);
    assert.match(r.json().error, /application\/json/);
  });

  test('JSON that is not an AdmissionReview: 400 with the field', async () => {
    const { app: a } = app();
    for (const body of [
      '[]',
      'null',
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}',
      '"x"',
    ]) {
      const r = await a.inject(post(body));
      assert.equal(r.statusCode, 400, body);
      assert.match(r.json().error, /malformed AdmissionReview|not valid JSON/, body);
    }
  });

  test('a valid review is answered (200, AdmissionReview) and counted', async () => {
    const { app: a } = app();
    const r = await a.inject(post(JSON.stringify(podReview(['nginx:1.27']))));
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.kind, 'AdmissionReview');
    assert.equal(body.response.allowed, true);
    const metrics = await a.inject({ method: 'GET', url: '/metrics' });
    assert.match(
      metrics.body,
      /sigward_admissions_total\{decision="allow",kind="Pod",route="validate",operation="CREATE"\} 1/,
    );
    assert.match(metrics.body, /sigward_admission_duration_seconds_bucket\{le="30",route="validate"\} 1/);
  });

  test('while the engine works on a review, the server keeps nothing of its body; the answer is sent as before', async () => {
    const watch = collectionWatch();
    const held = gate();
    const answer = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u', allowed: true },
    };
    // An engine that keeps nothing of the body while it waits (the engine's own retention test).
    const handleReview: AppDeps['handleReview'] = (body) => {
      watch.watch(body as object, 'the AdmissionReview');
      watch.watch((body as { request: object }).request, 'its request');
      return held.wait().then(() => ({
        ok: true,
        review: answer,
        decision: 'allow',
        kind: 'Pod',
        operation: 'CREATE',
      }));
    };
    const { app: a } = app({ handleReview });
    const answering = a.inject(post(JSON.stringify(podReview(['registry.test/apps/web:1']))));
    await held.waiting;
    const kept = ['its request', 'the AdmissionReview'];
    assert.deepEqual(await watch.collectedOf(kept), kept);
    held.release();
    const r = await answering;
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), answer);
  });

  test('hostile objects answer a denial inside the review, the server keeps serving', async () => {
    const { app: a } = app();
    const review = podReview(['nginx']);
    (review.request.object.spec as Record<string, unknown>)['containers'] = 'not a list';
    const r = await a.inject(post(JSON.stringify(review)));
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().response.allowed, false);
    assert.equal(r.json().response.status.code, 400);
    const again = await a.inject(post(JSON.stringify(podReview(['nginx']))));
    assert.equal(again.statusCode, 200);
  });

  test('a user name that is not a string: a denial naming the field, not a 500 (cached answer or not)', async () => {
    const { app: a } = app({}, { ready: true, reasons: [] }, 'deny');
    for (const username of [5, { name: 'admin' }, null, ['a'], 5]) {
      const review = podReview(['nginx:1.27']);
      (review.request.userInfo as Record<string, unknown>)['username'] = username;
      const r = await a.inject(post(JSON.stringify(review)));
      assert.equal(r.statusCode, 200, `${JSON.stringify(username)}: ${r.body}`);
      const response = r.json().response;
      assert.equal(response.uid, review.request.uid);
      assert.equal(response.allowed, false);
      assert.equal(response.status.code, 400);
      assert.match(response.status.message, /request\.userInfo\.username: must be a string/);
    }
  });
});

describe('probes', () => {
  test('readyz says why it is not ready; livez is always ok', async () => {
    const { app: a } = app({}, { ready: false, reasons: ['policies not synced yet'] });
    const r = await a.inject({ method: 'GET', url: '/readyz' });
    assert.equal(r.statusCode, 503);
    assert.deepEqual(r.json(), { status: 'not ready', reasons: ['policies not synced yet'] });
    assert.equal((await a.inject({ method: 'GET', url: '/livez' })).statusCode, 200);
  });
});

/** The app with its log lines captured; every line must parse as one JSON object. */
function logged(unmatched: 'allow' | 'deny' = 'allow', loaded = true) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  const built = app({ logger: createLogger({ destination: sink }) }, undefined, unmatched, loaded);
  const json = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { ...built, json };
}

const seriesOf = async (a: ReturnType<typeof app>['app']) =>
  (await a.inject({ method: 'GET', url: '/metrics' })).body;

describe('the admission log line and the admissions metric', () => {
  test('uid, user, reason codes and the decision are their own JSON fields', async () => {
    const { app: a, json } = logged('deny');
    const review = podReview(['registry.example/apps/web:1']);
    const r = await a.inject(post(JSON.stringify(review)));
    assert.equal(r.json().response.allowed, false);
    const line = json().find((l) => l['msg'] === 'admission');
    assert.ok(line, 'an admission line');
    assert.equal(line['uid'], review.request.uid);
    assert.equal(line['user'], 'tester');
    assert.deepEqual(line['reasons'], ['NO_POLICY']);
    assert.equal(line['decision'], 'deny');
    assert.equal(line['route'], 'validate');
    assert.equal(line['kind'], 'Pod');
    assert.equal(line['object'], 'apps/web');
    assert.equal(line['level'], 30);
    assert.match(String(line['summary']), /\[NO_POLICY\]$/);
  });

  test('the admission line: every documented field, in the documented order, with an ISO time', async () => {
    const { app: a, json } = logged('deny');
    await a.inject(post(JSON.stringify(podReview(['registry.example/apps/web:1']))));
    const line = json().find((l) => l['msg'] === 'admission')!;
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
      'reasons',
      'ms',
      'summary',
      'msg',
    ]);
    assert.equal(typeof line['ms'], 'number');
    assert.equal(new Date(String(line['time'])).toISOString(), line['time']);
    assert.equal(line['component'], 'admission');
  });

  test('an admitted review logs no reasons; the route label is route on every admission series', async () => {
    const { app: a, json } = logged();
    await a.inject(post(JSON.stringify(podReview(['nginx:1.27']))));
    await a.inject({ ...post(JSON.stringify(podReview(['nginx:1.27']))), url: '/mutate' });
    const lines = json().filter((l) => l['msg'] === 'admission');
    assert.deepEqual(
      lines.map((l) => [l['route'], l['decision'], 'reasons' in l]),
      [
        ['validate', 'allow', false],
        ['mutate', 'allow', false],
      ],
    );
    const text = await seriesOf(a);
    assert.match(
      text,
      /^sigward_admissions_total\{decision="allow",kind="Pod",route="mutate",operation="CREATE"\} 1$/m,
    );
    assert.doesNotMatch(text, /\bmode="/, 'no series labels the route as mode');
  });

  test('bodies that are not reviews are counted as decision invalid and logged as one JSON line each', async () => {
    const { app: a, json } = logged();
    const hostile = podReview(['nginx']);
    (hostile.request.object.spec as Record<string, unknown>)['containers'] = 'not a list';
    const answers = [
      await a.inject(post('{"apiVersion": ')),
      await a.inject(post('[]')),
      await a.inject({ ...post('[]'), url: '/mutate' }),
      await a.inject(post(JSON.stringify(hostile))),
      await a.inject(post('hello', 'text/plain')),
      await a.inject(post(JSON.stringify({ pad: 'x'.repeat(70 * 1024) }))),
    ];
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [400, 400, 400, 200, 415, 413],
    );
    const text = await seriesOf(a);
    for (const series of [
      'sigward_admissions_total{decision="invalid",kind="unknown",route="validate",operation="unknown"} 4',
      'sigward_admissions_total{decision="invalid",kind="unknown",route="mutate",operation="unknown"} 1',
      // A review whose object cannot be read: its kind and operation are known.
      'sigward_admissions_total{decision="invalid",kind="Pod",route="validate",operation="CREATE"} 1',
    ])
      assert.ok(text.split('\n').includes(series), `${series} in\n${text}`);
    const lines = json();
    assert.equal(lines.filter((l) => l['decision'] === 'invalid').length, 6);
    const named = lines.find((l) => l['msg'] === 'admission' && l['decision'] === 'invalid');
    assert.equal(named?.['uid'], hostile.request.uid, 'a malformed request that has a uid is named by it');
  });

  test('a kind sigward does not handle is counted as kind="other": posted kinds cannot grow the series', async () => {
    const { app: a } = app();
    for (const forged of ['Forged1', 'Forged2', 'x'.repeat(200)]) {
      const review = podReview(['nginx:1.27']);
      review.request.kind.kind = forged;
      assert.equal((await a.inject(post(JSON.stringify(review)))).statusCode, 200);
    }
    await a.inject(post(JSON.stringify(podReview(['nginx:1.27']))));
    const admissions = (await seriesOf(a))
      .split('\n')
      .filter((l) => l.startsWith('sigward_admissions_total{'));
    assert.deepEqual(admissions.sort(), [
      'sigward_admissions_total{decision="allow",kind="Pod",route="validate",operation="CREATE"} 1',
      'sigward_admissions_total{decision="allow",kind="other",route="validate",operation="CREATE"} 3',
    ]);
  });

  test('a review sigward cannot judge (policies not loaded) is refused and counted as error-deny', async () => {
    const { app: a, json } = logged('allow', false);
    const review = podReview(['nginx:1.27']);
    const r = await a.inject(post(JSON.stringify(review)));
    assert.equal(r.json().response.allowed, false);
    assert.match(r.json().response.status.message, /\[POLICIES_NOT_LOADED\]$/);
    const line = json().find((l) => l['msg'] === 'admission');
    assert.equal(line?.['decision'], 'error-deny');
    assert.equal(line?.['uid'], review.request.uid);
    assert.match(
      await seriesOf(a),
      /^sigward_admissions_total\{decision="error-deny",kind="Pod",route="validate",operation="CREATE"\} 1$/m,
    );
  });
});

// The engine answers a cached review at once and anything else through a promise; the route handler
// takes both, and a handler that throws or rejects is a 500 that is logged and timed, never a hang.
describe('the review handler: answered at once or later, failing at once or later', () => {
  const uidOf = (body: unknown) => (body as { request: { uid: string } }).request.uid;
  const timed = async (a: ReturnType<typeof app>['app']) =>
    Number(
      /^sigward_admission_duration_seconds_count\{route="validate"\} (\d+)$/m.exec(await seriesOf(a))?.[1],
    );

  for (const [how, handleReview] of [
    ['at once', (body: unknown) => cachedAllow(uidOf(body))],
    ['through a promise', async (body: unknown) => cachedAllow(uidOf(body))],
  ] as const) {
    test(`an answer ${how}: 200 with the review, one admission line, counted and timed`, async () => {
      const lines: Array<Record<string, unknown>> = [];
      const sink = new Writable({
        write(chunk: Buffer, _e, done) {
          for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l));
          done();
        },
      });
      const { app: a } = app({ handleReview, logger: createLogger({ destination: sink }) });
      const review = podReview(['nginx:1.27']);
      const r = await a.inject(post(JSON.stringify(review)));
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
      assert.deepEqual(r.json(), cachedAllow(review.request.uid).review);
      assert.deepEqual(
        lines.filter((l) => l['msg'] === 'admission').map((l) => l['uid']),
        [review.request.uid],
      );
      assert.equal(
        lines.some((l) => l['level'] === 40),
        false,
        'no warning (e.g. a reply sent twice)',
      );
      assert.match(
        await seriesOf(a),
        /^sigward_admissions_total\{decision="allow",kind="Pod",route="validate",operation="CREATE"\} 1$/m,
      );
      assert.equal(await timed(a), 1);
    });
  }

  test('an answer with its JSON made: sent as it is, with the headers fastify gives the review it serializes', async () => {
    const review = podReview(['nginx:1.27']);
    const answer = cachedAllow(review.request.uid);
    const { app: serialized } = app({ handleReview: () => answer });
    // Spaced, so that what is sent shows which was sent (an engine's JSON is JSON.stringify(review)).
    const json = JSON.stringify(answer.review, null, 1);
    const { app: made } = app({ handleReview: () => ({ ...answer, json }) });
    const a = await serialized.inject(post(JSON.stringify(review)));
    const b = await made.inject(post(JSON.stringify(review)));
    assert.equal(b.statusCode, 200);
    assert.equal(b.body, json);
    const headers = (r: typeof a) => {
      const { date: _date, 'content-length': length, ...rest } = r.headers;
      return { ...rest, length: Number(length) - Buffer.byteLength(r.body) };
    };
    assert.deepEqual(headers(b), headers(a));
    assert.deepEqual(b.json(), a.json());
  });

  for (const [how, handleReview] of [
    [
      'throws at once',
      () => {
        throw new Error('engine broke');
      },
    ],
    ['rejects', () => Promise.reject(new Error('engine broke'))],
  ] as const) {
    test(`a handler that ${how}: 500, the failure logged, timed, and the next review still answered`, async () => {
      const lines: Array<Record<string, unknown>> = [];
      const sink = new Writable({
        write(chunk: Buffer, _e, done) {
          for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l));
          done();
        },
      });
      let fail = true;
      const { app: a } = app({
        handleReview: (body) => (fail ? handleReview() : cachedAllow(uidOf(body))),
        logger: createLogger({ destination: sink }),
      });
      const r = await a.inject(post(JSON.stringify(podReview(['nginx:1.27']))));
      assert.equal(r.statusCode, 500);
      assert.deepEqual(r.json(), { error: 'engine broke', statusCode: 500 });
      assert.ok(lines.some((l) => l['msg'] === 'request failed' && l['level'] === 50));
      assert.equal(await timed(a), 1);
      fail = false;
      assert.equal((await a.inject(post(JSON.stringify(podReview(['nginx:1.27']))))).statusCode, 200);
    });
  }
});
