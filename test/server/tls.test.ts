// Over real HTTPS: TLS 1.2 is the floor, the serving certificate is swapped when its files change
// (no restart), and shutdown turns readiness off before closing.
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { startServer } from '../../src/server/serve.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { makeTestTls } from '../support/tls.ts';

const quiet = new Writable({ write: (_c, _e, done) => done() });

function peerCertificate(
  port: number,
  options: { maxVersion?: 'TLSv1.1' | 'TLSv1.3' } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

/**
 * A server on live certificate files (polled every 50 ms), the second pair ready to copy over them;
 * `swapped` settles once the server says it reloaded.
 */
async function serverOnLiveFiles(health?: { host: string; port: number }) {
  const first = makeTestTls(mkdtempSync(join(tmpdir(), 'sigward-tls-a-')));
  const second = makeTestTls(mkdtempSync(join(tmpdir(), 'sigward-tls-b-')));
  const live = mkdtempSync(join(tmpdir(), 'sigward-tls-live-'));
  const files = { certFile: join(live, 'tls.crt'), keyFile: join(live, 'tls.key') };
  copyFileSync(first.certFile, files.certFile);
  copyFileSync(first.keyFile, files.keyFile);
  let reloaded!: () => void;
  const swapped = new Promise<void>((r) => (reloaded = r));
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    ...(health === undefined ? {} : { health }),
    tls: files,
    certPollMs: 50,
    onCertificateReloaded: () => reloaded(),
    handleReview: async () => ({ ok: false, message: 'unused' }),
    readiness: () => ({ ready: true, reasons: [] }),
    metrics: createMetrics({ processMetrics: false }),
    logger: createLogger({ destination: quiet }),
  });
  const swap = async (): Promise<void> => {
    copyFileSync(second.keyFile, files.keyFile);
    copyFileSync(second.certFile, files.certFile);
    await swapped;
  };
  return { server, swap };
}

test('serving certificate reloaded on file change; TLS below 1.2 refused', async () => {
  const { server, swap } = await serverOnLiveFiles();
  try {
    const before = await peerCertificate(server.port);
    await assert.rejects(peerCertificate(server.port, { maxVersion: 'TLSv1.1' }));
    await swap();
    const after = await peerCertificate(server.port);
    assert.notEqual(after, before);
  } finally {
    await server.shutdown();
  }
});

test('the health listener serves the reloaded certificate too, and closes on shutdown', async () => {
  const { server, swap } = await serverOnLiveFiles({ host: '127.0.0.1', port: 0 });
  const health = server.healthPort!;
  try {
    const before = await peerCertificate(health);
    assert.equal(before, await peerCertificate(server.port));
    await assert.rejects(peerCertificate(health, { maxVersion: 'TLSv1.1' }), 'TLS 1.2 at least there too');
    await swap();
    const after = await peerCertificate(health);
    assert.notEqual(after, before);
    assert.equal(after, await peerCertificate(server.port));
  } finally {
    await server.shutdown();
  }
  await assert.rejects(peerCertificate(health));
});

test('shutdown: readiness off first, then the listener closes, then watchers stop', async () => {
  const tls = makeTestTls(mkdtempSync(join(tmpdir(), 'sigward-tls-c-')));
  const order: string[] = [];
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    tls,
    handleReview: async () => ({ ok: false, message: 'unused' }),
    readiness: () => ({ ready: true, reasons: [] }),
    metrics: createMetrics({ processMetrics: false }),
    logger: createLogger({ destination: quiet }),
    stopWatchers: async () => {
      order.push('watchers stopped');
    },
  });
  await server.shutdown();
  order.push('shutdown returned');
  assert.deepEqual(order, ['watchers stopped', 'shutdown returned']);
  await assert.rejects(peerCertificate(server.port));
});
