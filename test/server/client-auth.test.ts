// Authenticated callers over real TLS on loopback: with a client CA bundle the admission listener
// refuses, in the handshake, a caller without a certificate or with one from another CA (TLS 1.3 and
// 1.2), and with names a certificate from the right CA that names none of them; the right certificate
// gets its review answered. Probes and /metrics stay reachable without a certificate on the health
// listener, which serves nothing else. The bundle is re-read when its file changes; a bad new file keeps
// the previous one. Bundles that cannot be used are refused with one line naming the file.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { clientIdentities, readClientCaBundle, RefusalLog } from '../../src/server/client-auth.ts';
import { startServer } from '../../src/server/serve.ts';
import type { ServeOptions } from '../../src/server/serve.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { counterValue, createMetrics } from '../../src/telemetry/metrics.ts';
import type { Metrics } from '../../src/telemetry/metrics.ts';
import { makeClientCertificate, makeTestTls } from '../support/tls.ts';
import type { TestClientCertificate, TestTls } from '../support/tls.ts';

interface Pki {
  readonly server: TestTls;
  readonly caFile: string;
  readonly apiserver: TestClientCertificate;
  readonly intruder: TestClientCertificate;
  readonly spiffe: TestClientCertificate;
  /** From a CA of its own, which the bundle does not hold. */
  readonly stranger: TestClientCertificate;
  readonly strangerCaFile: string;
}

function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-client-auth-'));
  const otherDir = join(dir, 'other');
  mkdirSync(otherDir);
  const server = makeTestTls(dir);
  makeTestTls(otherDir);
  return {
    server,
    caFile: join(dir, 'ca.pem'),
    apiserver: makeClientCertificate(dir, 'apiserver', { commonName: 'kube-apiserver' }),
    intruder: makeClientCertificate(dir, 'intruder', { commonName: 'system:node:worker-1' }),
    spiffe: makeClientCertificate(dir, 'spiffe', {
      commonName: 'workload',
      altNames: ['URI:spiffe://cluster.local/ns/kube-system/sa/apiserver', 'DNS:apiserver.internal'],
    }),
    stranger: makeClientCertificate(otherDir, 'stranger', { commonName: 'kube-apiserver' }),
    strangerCaFile: join(otherDir, 'ca.pem'),
  };
}

const pki = makePki();

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One request on a fresh connection (no agent: every call is its own handshake). */
function call(
  port: number,
  path: string,
  client: TestClientCertificate | undefined,
  options: { method?: string; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'POST',
        agent: false,
        ca: pki.server.caPem,
        headers: { 'content-type': 'application/json' },
        ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
        ...(client === undefined ? {} : { cert: client.cert, key: client.key }),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.method === 'GET' ? undefined : '{}');
  });
}

interface Started {
  readonly port: number;
  readonly healthPort: number | undefined;
  readonly reviews: () => number;
  /** sigward_callers_refused_total of one reason. */
  readonly refused: (reason: string) => Promise<number>;
  readonly logs: () => Array<Record<string, unknown>>;
  /** Resolves once a log line with this message was written (checked on every write, no polling). */
  readonly logged: (msg: RegExp) => Promise<void>;
  readonly shutdown: () => Promise<void>;
}

async function start(options: Partial<ServeOptions> = {}): Promise<Started> {
  let reviews = 0;
  let text = '';
  const waiters = new Set<() => void>();
  const destination = new Writable({
    write: (chunk: Buffer, _e, done) => {
      text += chunk.toString();
      for (const waiter of waiters) waiter();
      done();
    },
  });
  const metrics: Metrics = createMetrics({ processMetrics: false });
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile },
    handleReview: async () => {
      reviews++;
      return {
        ok: true,
        review: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { allowed: true } },
        decision: 'allow',
        kind: 'Pod',
        operation: 'CREATE',
      };
    },
    readiness: () => ({ ready: true, reasons: [] }),
    metrics,
    logger: createLogger({ destination }),
    ...options,
  });
  return {
    port: server.port,
    healthPort: server.healthPort,
    reviews: () => reviews,
    refused: (reason) => counterValue(metrics.callersRefused, { reason }),
    logs: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    logged: (msg) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (!msg.test(text)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
    shutdown: () => server.shutdown(),
  };
}

// Every test that talks to a server is bounded: a connection neither answered nor closed fails it.
const refusalsIn = (started: Started) =>
  started.logs().filter((l) => l['msg'] === 'caller refused in the TLS handshake');

test(
  'a caller without a client certificate is refused in the handshake (TLS 1.3 and 1.2), never reviewed',
  { timeout: 30_000 },
  async () => {
    const server = await start({ clientAuth: { caFile: pki.caFile } });
    try {
      await assert.rejects(call(server.port, '/validate', undefined), {
        code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
      });
      await assert.rejects(
        call(server.port, '/validate', undefined, { maxVersion: 'TLSv1.2' }),
        /alert handshake failure/,
      );
      // Probes cannot use this port either: that is what the health listener is for.
      await assert.rejects(call(server.port, '/readyz', undefined, { method: 'GET' }));
      assert.equal(server.reviews(), 0);
      const [line, ...rest] = refusalsIn(server);
      assert.equal(line?.['reason'], 'no client certificate');
      assert.equal(line?.['remote'], '127.0.0.1');
      assert.equal(rest.length, 0, 'the same refusal again within the minute is counted, not logged');
      // The metric counts every refusal, logged or not.
      assert.equal(await server.refused('no-certificate'), 3);
      assert.equal(await server.refused('untrusted-certificate'), 0);
    } finally {
      await server.shutdown();
    }
  },
);

test(
  'a certificate from another CA is refused in the handshake; one from the bundle is reviewed',
  { timeout: 30_000 },
  async () => {
    const server = await start({ clientAuth: { caFile: pki.caFile } });
    try {
      await assert.rejects(call(server.port, '/validate', pki.stranger), { code: 'ECONNRESET' });
      await assert.rejects(call(server.port, '/validate', pki.stranger, { maxVersion: 'TLSv1.2' }));
      assert.equal(server.reviews(), 0);
      assert.match(
        String(refusalsIn(server)[0]?.['reason']),
        /^client certificate not accepted by the --client-ca bundle \([A-Z_]+\)$/,
      );
      assert.equal(await server.refused('untrusted-certificate'), 2);
      assert.equal(await server.refused('no-certificate'), 0);
      const answered = await call(server.port, '/validate', pki.apiserver);
      assert.equal(answered.status, 200, answered.body);
      // Without names, any certificate the bundle signed is a caller.
      assert.equal(
        (await call(server.port, '/validate', pki.intruder, { maxVersion: 'TLSv1.2' })).status,
        200,
      );
      assert.equal(server.reviews(), 2);
    } finally {
      await server.shutdown();
    }
  },
);

test(
  'with --client-name, a certificate from the bundle naming none of them is dropped before its request is read',
  { timeout: 30_000 },
  async () => {
    const server = await start({
      clientAuth: {
        caFile: pki.caFile,
        names: ['kube-apiserver', 'spiffe://cluster.local/ns/kube-system/sa/apiserver'],
      },
    });
    try {
      await assert.rejects(call(server.port, '/validate', pki.intruder));
      await assert.rejects(call(server.port, '/validate', pki.intruder, { maxVersion: 'TLSv1.2' }));
      assert.equal(server.reviews(), 0);
      const [line] = refusalsIn(server);
      assert.equal(line?.['reason'], 'client certificate names none of the --client-name identities');
      assert.deepEqual(line?.['presented'], ['system:node:worker-1']);
      assert.equal(await server.refused('name-not-accepted'), 2);
      // The subject CN, or a URI (or DNS) subject alternative name, exactly.
      assert.equal((await call(server.port, '/validate', pki.apiserver)).status, 200);
      assert.equal((await call(server.port, '/validate', pki.spiffe)).status, 200);
      assert.equal(server.reviews(), 2);
    } finally {
      await server.shutdown();
    }
  },
);

/**
 * A request written before the handshake ends, so it leaves in the flight of the client's Finished
 * message and can arrive in the same read: what the server answered (empty when it dropped the caller).
 */
function earlyRequest(port: number, client: TestClientCertificate): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: pki.server.caPem, ...client });
    socket.write(
      'POST /validate HTTP/1.1\r\nhost: sigward\r\nconnection: close\r\n' +
        'content-type: application/json\r\ncontent-length: 2\r\n\r\n{}',
    );
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', () => {});
    socket.on('close', () => resolve(answer));
  });
}

// Two checks keep such a request from a handler: the connection is dropped when its handshake ends,
// and a request on a connection not accepted ends its lifecycle in onRequest. Each alone passes this
// test; with both removed it fails (answered 200), and so does the handshake check removed with the
// onRequest check only destroying the socket (the handler still ran: 20 reviews).
test(
  'with --client-name, a request sent in the same flight as the handshake is never reviewed',
  { timeout: 30_000 },
  async () => {
    const server = await start({ clientAuth: { caFile: pki.caFile, names: ['kube-apiserver'] } });
    try {
      for (let i = 0; i < 20; i++) assert.equal(await earlyRequest(server.port, pki.intruder), '');
      assert.equal(server.reviews(), 0);
      // The same bytes from an accepted certificate are answered: the early write itself works.
      assert.match(await earlyRequest(server.port, pki.apiserver), /^HTTP\/1\.1 200 /);
      assert.equal(server.reviews(), 1);
    } finally {
      await server.shutdown();
    }
  },
);

test(
  'the health listener answers probes and /metrics without a certificate, and nothing else',
  { timeout: 30_000 },
  async () => {
    const server = await start({
      clientAuth: { caFile: pki.caFile },
      health: { host: '127.0.0.1', port: 0 },
    });
    try {
      const health = server.healthPort!;
      assert.notEqual(health, server.port);
      assert.equal((await call(health, '/livez', undefined, { method: 'GET' })).status, 200);
      assert.equal((await call(health, '/readyz', undefined, { method: 'GET' })).status, 200);
      const metrics = await call(health, '/metrics', undefined, { method: 'GET' });
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^# TYPE sigward_admissions_total counter$/m);
      for (const route of ['/validate', '/mutate']) {
        const refused = await call(health, route, undefined);
        assert.equal(refused.status, 404, refused.body);
        assert.match(refused.body, /only \/livez, \/readyz and \/metrics/);
      }
      assert.equal(server.reviews(), 0);
    } finally {
      await server.shutdown();
    }
  },
);

test(
  'the client CA bundle is re-read when it changes; a bundle that does not load keeps the previous one',
  { timeout: 30_000 },
  async () => {
    const live = join(mkdtempSync(join(tmpdir(), 'sigward-client-ca-live-')), 'ca.crt');
    copyFileSync(pki.caFile, live);
    let reloaded!: () => void;
    let swapped = new Promise<void>((r) => (reloaded = r));
    const server = await start({
      clientAuth: { caFile: live },
      certPollMs: 50,
      onCertificateReloaded: () => reloaded(),
    });
    try {
      assert.equal((await call(server.port, '/validate', pki.apiserver)).status, 200);
      await assert.rejects(call(server.port, '/validate', pki.stranger));

      copyFileSync(pki.strangerCaFile, live);
      await swapped;
      swapped = new Promise<void>((r) => (reloaded = r));
      assert.equal((await call(server.port, '/validate', pki.stranger)).status, 200);
      await assert.rejects(call(server.port, '/validate', pki.apiserver));

      // An empty file (a half-written update): logged, and the last good bundle stays in force.
      writeFileSync(live, '');
      await server.logged(/client CA bundle files do not load; keeping the previous ones/);
      assert.equal((await call(server.port, '/validate', pki.stranger)).status, 200);
    } finally {
      await server.shutdown();
    }
  },
);

test('a bundle that cannot be used is refused with one line naming the file and why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-client-ca-bad-'));
  const write = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const cases: ReadonlyArray<readonly [string, RegExp]> = [
    [join(dir, 'missing.pem'), /missing\.pem does not exist$/],
    [dir, /is a directory$/],
    [write('empty.pem', '\n  \n'), /empty\.pem is empty$/],
    [write('text.pem', 'not a certificate'), /holds no PEM block/],
    [
      write('key.pem', readFileSync(pki.server.keyFile, 'utf8')),
      /block 1 is a PRIVATE KEY, not a CERTIFICATE/,
    ],
    [
      write('broken.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'),
      /certificate 1 does not parse as X\.509/,
    ],
  ];
  for (const [file, message] of cases)
    assert.throws(
      () => readClientCaBundle(file),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CLIENT_CA_INVALID');
        assert.match(error.message, /^--client-ca \S+ /);
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
    );
  // Two CAs in one bundle (a rotation in progress) are fine.
  const both = write('both.pem', pki.server.caPem + readFileSync(pki.strangerCaFile, 'utf8'));
  assert.ok(readClientCaBundle(both).length > 0);
});

test("a certificate's identities: subject CN, then DNS and URI alternative names (not IPs or emails)", () => {
  assert.deepEqual(clientIdentities(new X509Certificate(pki.spiffe.cert)), [
    'workload',
    'spiffe://cluster.local/ns/kube-system/sa/apiserver',
    'apiserver.internal',
  ]);
  assert.deepEqual(clientIdentities(new X509Certificate(pki.apiserver.cert)), ['kube-apiserver']);
  // Node quotes a value holding a comma (`URI:"spiffe://…\\u002c…"`): it is one name, unescaped.
  const dir = mkdtempSync(join(tmpdir(), 'sigward-client-names-'));
  makeTestTls(dir);
  const odd = makeClientCertificate(dir, 'odd', {
    commonName: 'odd',
    altNames: ['URI:spiffe://cluster.local/a,b', 'email:ops@example.com', 'IP:10.0.0.1', 'DNS:after.comma'],
  });
  assert.deepEqual(clientIdentities(new X509Certificate(odd.cert)), [
    'odd',
    'spiffe://cluster.local/a,b',
    'after.comma',
  ]);
});

test('refusals: the first of each kind is logged, repeats within the interval only counted', () => {
  const lines: Array<Record<string, unknown>> = [];
  let now = 0;
  const log = new RefusalLog(
    (fields) => lines.push({ ...fields }),
    60_000,
    () => now,
  );
  log.refused('no client certificate', { remote: '10.0.0.1' });
  log.refused('no client certificate', { remote: '10.0.0.2' });
  log.refused('another reason', {});
  now = 59_999;
  log.refused('no client certificate', {});
  now = 60_000;
  log.refused('no client certificate', { remote: '10.0.0.3' });
  assert.deepEqual(lines, [
    { reason: 'no client certificate', remote: '10.0.0.1' },
    { reason: 'another reason' },
    { reason: 'no client certificate', remote: '10.0.0.3', suppressed: 2 },
  ]);
});
