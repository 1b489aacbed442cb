// fastify's own log lines. The app gives fastify no logger of its own (that would make it time every
// request and listen for each response's end, for a line it does not write) and hands it sigward's
// server logger instead: per request (childLoggerFactory) and as the instance's `app.log`. These tests
// make fastify write its lines through the app, over real connections where a line needs one, and
// check each is written, at its level, with the logger's bindings (service, component); that the
// logger reads a request, a reply and an error as the logger fastify makes of a `loggerInstance` does;
// and that fastify adds nothing of its own to each response, as for bare fastify without a logger.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/server/app.ts';
import type { AppDeps, HandledReview } from '../../src/server/app.ts';
import { fastifyLogger } from '../../src/server/fastify-logger.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';

type Line = Record<string, unknown>;

/** A logger at `level` and the lines it wrote, parsed. */
function sink(level = 'info') {
  const lines: Line[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ destination, level }), lines };
}

function appWith(logger: AppDeps['logger'], handleReview: AppDeps['handleReview'] = () => allowed) {
  return buildApp({
    handleReview,
    readiness: () => ({ ready: true, reasons: [] }),
    metrics: createMetrics({ processMetrics: false }),
    logger,
  });
}

const allowed: HandledReview = {
  ok: true,
  review: {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'u', allowed: true },
  },
  decision: 'allow',
  kind: 'Pod',
  operation: 'CREATE',
};

/** The bindings every line of fastify's carries. */
const SERVER = { service: 'sigward', component: 'server' };
const withBindings = (line: Line | undefined) => ({
  service: line?.['service'],
  component: line?.['component'],
});

/** Everything `socket` receives until the server closes it. */
async function received(socket: net.Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await once(socket, 'close');
  return text;
}

describe("fastify's own lines", () => {
  test('a reply sent twice: the warning, with the server logger bindings', async () => {
    const { logger, lines } = sink();
    const app = appWith(logger);
    app.get('/twice', (_request, reply) => {
      void reply.send('first');
      void reply.send('second');
    });
    const r = await app.inject({ method: 'GET', url: '/twice' });
    assert.equal(r.body, 'first');
    const line = lines.find((l) => (l['err'] as Line | undefined)?.['code'] === 'FST_ERR_REP_ALREADY_SENT');
    assert.ok(line !== undefined, `fastify's warning is written: ${JSON.stringify(lines)}`);
    assert.equal(line['level'], 40);
    assert.deepEqual(withBindings(line), SERVER);
    assert.match(String((line['err'] as Line)['message']), /Reply was already sent/);
    await app.close();
  });

  test('a client error on a connection: the trace line of the instance logger, with its bindings', async () => {
    const { logger, lines } = sink('trace');
    const app = appWith(logger);
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as net.AddressInfo;
      const socket = net.connect(port, '127.0.0.1');
      socket.write('NOT HTTP\r\n\r\n');
      assert.match(await received(socket), /^HTTP\/1\.1 400 Bad Request/);
      const line = lines.find((l) => l['msg'] === 'client error');
      assert.ok(line !== undefined, `fastify's client error line is written: ${JSON.stringify(lines)}`);
      assert.equal(line['level'], 10);
      assert.deepEqual(withBindings(line), SERVER);
      assert.equal((line['err'] as Line)['code'], 'HPE_INVALID_METHOD');
    } finally {
      await app.close();
    }
  });

  // Node's parser error carries the request's raw bytes (`rawPacket`): the headers, an apiserver's
  // bearer token among them. fastify logs the error whole at trace; the bytes must never reach the log.
  test("a client error's raw request bytes are never logged: no Authorization header in the line", async () => {
    const { logger, lines } = sink('trace');
    const app = appWith(logger);
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as net.AddressInfo;
      for (const request of [
        'POST /validate HTTP/1.1\r\nHost: sigward\r\nAuthorization: Bearer secret-token-1\r\nBad Header\r\n\r\n',
        `GET /livez HTTP/1.1\r\nAuthorization: Bearer secret-token-1\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`,
      ]) {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => {});
        socket.write(request);
        assert.match(await received(socket), /^HTTP\/1\.1 4\d\d /);
      }
      const errors = lines.filter((l) => String(l['msg']).startsWith('client '));
      assert.equal(errors.length, 2, `both client errors are logged: ${JSON.stringify(lines)}`);
      for (const line of errors) {
        const err = line['err'] as Line;
        assert.match(String(err['code']), /^HPE_/);
        assert.equal(err['rawPacket'], '[redacted]');
      }
      const text = JSON.stringify(lines);
      // The token's bytes, as text or as the Buffer's JSON numbers.
      assert.ok(!text.includes('secret-token-1'));
      assert.ok(!text.includes([...Buffer.from('secret-token-1')].join(',')));
    } finally {
      await app.close();
    }
  });

  test('a request that arrives while the server closes: 503 and the info line, with the bindings', async () => {
    const { logger, lines } = sink();
    let answer: (handled: HandledReview) => void = () => {};
    let reviewing: () => void = () => {};
    const reviewStarted = new Promise<void>((resolve) => (reviewing = resolve));
    // The first review is held open, so its connection is not idle when the server starts closing.
    const app = appWith(logger, () => {
      reviewing();
      return new Promise<HandledReview>((resolve) => (answer = resolve));
    });
    let closing: () => void = () => {};
    const closingStarted = new Promise<void>((resolve) => (closing = resolve));
    app.addHook('preClose', (done) => {
      closing();
      done();
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as net.AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    const text = received(socket);
    const body = '{}';
    socket.write(
      `POST /validate HTTP/1.1\r\nHost: sigward\r\nConnection: keep-alive\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await reviewStarted;
    const closed = app.close();
    await closingStarted;
    socket.write('GET /livez HTTP/1.1\r\nHost: sigward\r\n\r\n');
    answer(allowed);
    const responses = await text;
    await closed;
    assert.match(responses, /^HTTP\/1\.1 200 OK/);
    assert.match(responses, /HTTP\/1\.1 503 Service Unavailable/);
    const line = lines.find((l) => String(l['msg']).startsWith('request aborted - refusing'));
    assert.ok(line !== undefined, `fastify's 503 line is written: ${JSON.stringify(lines)}`);
    assert.equal(line['level'], 30);
    assert.deepEqual(withBindings(line), SERVER);
    assert.deepEqual(line['res'], { statusCode: 503 });
  });

  test("a request, a reply and an error read as fastify's own logger of a loggerInstance reads them", async () => {
    const ours = sink('trace');
    const theirs = sink('trace');
    const fastifysOwn = fastify({ loggerInstance: theirs.logger.child({ component: 'server' }) });
    const loggers = [fastifyLogger(ours.logger.child({ component: 'server' })), fastifysOwn.log];
    const request = {
      method: 'POST',
      url: '/validate?timeout=10s',
      headers: { 'accept-version': '1.x', authorization: 'Bearer not-to-be-logged' },
      host: 'sigward.sigward.svc:443',
      ip: '10.0.0.7',
      socket: { remotePort: 41234 },
    };
    const error = Object.assign(new Error('the serializer failed'), { code: 'FST_ERR_X', statusCode: 500 });
    for (const log of loggers) {
      log.info({ req: request, res: { statusCode: 503, headers: { secret: 'x' } } }, 'both');
      log.error({ err: error, req: request }, error.message);
      log.warn('plain text');
    }
    await fastifysOwn.close();
    const withoutTime = (lines: Line[]) => lines.map(({ time: _time, ...rest }) => rest);
    assert.equal(ours.lines.length, 3);
    assert.deepEqual(withoutTime(ours.lines), withoutTime(theirs.lines));
    assert.deepEqual(ours.lines[0]?.['req'], {
      method: 'POST',
      url: '/validate?timeout=10s',
      version: '1.x',
      host: 'sigward.sigward.svc:443',
      remoteAddress: '10.0.0.7',
      remotePort: 41234,
    });
    assert.deepEqual(ours.lines[0]?.['res'], { statusCode: 503 });
  });

  test('no listener of fastify on a response: the same as bare fastify with no logger', async () => {
    /** The 'finish' and 'error' listeners each response of `app` carries when it is sent (GET /livez). */
    const listenersOf = async (app: FastifyInstance): Promise<number[]> => {
      const counts: number[] = [];
      app.addHook('onSend', (_request, reply, payload, done) => {
        counts.push(reply.raw.listenerCount('finish'), reply.raw.listenerCount('error'));
        done(null, payload);
      });
      await app.listen({ host: '127.0.0.1', port: 0 });
      try {
        const { port } = app.server.address() as net.AddressInfo;
        for (let i = 0; i < 2; i++) await (await fetch(`http://127.0.0.1:${port}/livez`)).text();
      } finally {
        await app.close();
      }
      return counts;
    };
    const bare = fastify();
    bare.get('/livez', async () => ({ status: 'ok' }));
    const expected = await listenersOf(bare);
    // With a loggerInstance fastify adds a 'finish' and an 'error' listener to every response.
    assert.deepEqual(await listenersOf(appWith(sink().logger)), expected);
  });
});
