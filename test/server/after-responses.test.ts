// A review's admission line and metrics are written after the responses of the event loop's turn
// (src/server/after-responses.ts): the queue itself, and over real HTTPS that a review's line and
// count come after its response was written and reported finished.
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { AfterResponses } from '../../src/server/after-responses.ts';
import { buildApp } from '../../src/server/app.ts';
import type { AppDeps } from '../../src/server/app.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { podReview } from '../engine/harness.ts';
import { makeTestTls } from '../support/tls.ts';
import { cachedAllow } from '../support/cached-allow.ts';
import { injectAfterTurn, turnEnd } from '../support/turn-end.ts';

describe('AfterResponses', () => {
  test('work queued during a turn runs after it, once, in the order it came', async () => {
    const ran: number[] = [];
    const queue = new AfterResponses<number>(
      (n) => ran.push(n),
      (error) => assert.fail(String(error)),
    );
    queue.add(1);
    queue.add(2);
    queue.add(3);
    assert.deepEqual(ran, [], 'nothing runs inside the turn');
    await turnEnd();
    assert.deepEqual(ran, [1, 2, 3]);
    queue.add(4);
    await turnEnd();
    assert.deepEqual(ran, [1, 2, 3, 4], 'each item once; the next turn schedules again');
  });

  test('an item that throws: the failure is heard and the items after it still run', async () => {
    const ran: number[] = [];
    const failures: unknown[] = [];
    const queue = new AfterResponses<number>(
      (n) => {
        if (n === 2) throw new Error('two broke');
        ran.push(n);
      },
      (error) => failures.push(error),
    );
    for (const n of [1, 2, 3]) queue.add(n);
    await turnEnd();
    assert.deepEqual(ran, [1, 3]);
    assert.deepEqual(
      failures.map((e) => (e as Error).message),
      ['two broke'],
    );
  });

  test('flush runs what is queued at once (the server closing), and nothing twice', async () => {
    const ran: number[] = [];
    const queue = new AfterResponses<number>(
      (n) => ran.push(n),
      (error) => assert.fail(String(error)),
    );
    queue.add(1);
    queue.flush();
    assert.deepEqual(ran, [1]);
    await turnEnd();
    assert.deepEqual(ran, [1]);
  });
});

/** A handler answering every review allowed, as the engine does from its caches. */
const allow: AppDeps['handleReview'] = (body) =>
  cachedAllow((body as { request: { uid: string } }).request.uid);

/** A log destination that hands each line, parsed, to `seen`. */
const sinkOf = (seen: (line: Record<string, unknown>) => void) =>
  new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') seen(JSON.parse(l));
      done();
    },
  });

/** The app answering with `allow`, its log lines handed to `seen`. */
const appWith = (
  seen: (line: Record<string, unknown>) => void,
  metrics = createMetrics({ processMetrics: false }),
) =>
  buildApp({
    handleReview: allow,
    readiness: () => ({ ready: true, reasons: [] }),
    metrics,
    logger: createLogger({ destination: sinkOf(seen) }),
  });

/** POSTs `review` to /validate with inject. */
const validate = (app: ReturnType<typeof buildApp>, review: object) =>
  app.inject({
    method: 'POST',
    url: '/validate',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(review),
  });

describe('the admission line and metrics of an answered review', () => {
  test('over HTTPS: written after the response was sent and reported finished', async (t) => {
    const tls = makeTestTls(mkdtempSync(join(tmpdir(), 'sigward-after-')));
    const order: string[] = [];
    const metrics = createMetrics({ processMetrics: false });
    const countAdmission = metrics.countAdmission.bind(metrics);
    metrics.countAdmission = (...args) => {
      order.push('counted');
      countAdmission(...args);
    };
    const app = buildApp({
      handleReview: allow,
      readiness: () => ({ ready: true, reasons: [] }),
      metrics,
      logger: createLogger({
        destination: sinkOf((line) => {
          if (line['msg'] === 'admission') order.push('line');
        }),
      }),
      https: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) },
    });
    const finished = () => order.push('response finished');
    diagnostics.subscribe('http.server.response.finish', finished);
    t.after(async () => {
      diagnostics.unsubscribe('http.server.response.finish', finished);
      await app.close();
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const body = JSON.stringify(podReview(['nginx:1.27']));
    const status = await new Promise<number>((resolve, reject) => {
      const request = https.request(
        { host: '127.0.0.1', port, path: '/validate', method: 'POST', ca: tls.caPem, agent: false },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('error', reject);
      request.setHeader('content-type', 'application/json');
      request.end(body);
    });
    assert.equal(status, 200);
    // The client has its answer; the server's immediates of that turn have run by the time it is read.
    await turnEnd();
    assert.deepEqual(order, ['response finished', 'line', 'counted']);
  });

  test('a line or metric that fails: the review is still answered, and the failure logged', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const metrics = createMetrics({ processMetrics: false });
    metrics.countAdmission = () => {
      throw new Error('counter broke');
    };
    const app = injectAfterTurn(appWith((line) => lines.push(line), metrics));
    const review = podReview(['nginx:1.27']);
    const r = await validate(app, review);
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().response.allowed, true);
    const failure = lines.find((l) => l['level'] === 50);
    assert.equal(failure?.['msg'], 'a review was answered but its admission line or metrics failed');
    assert.match(String((failure?.['err'] as { message?: unknown } | undefined)?.message), /counter broke/);
    assert.deepEqual(
      lines.filter((l) => l['msg'] === 'admission').map((l) => l['uid']),
      [review.request.uid],
      'the line was written before the count failed',
    );
  });

  test('closing the app writes what the turn had not written yet', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const app = appWith((line) => lines.push(line));
    const review = podReview(['nginx:1.27']);
    const r = await validate(app, review);
    assert.equal(r.statusCode, 200);
    await app.close();
    assert.deepEqual(
      lines.filter((l) => l['msg'] === 'admission').map((l) => l['uid']),
      [review.request.uid],
    );
  });
});
