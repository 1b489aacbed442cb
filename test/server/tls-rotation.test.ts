// Certificate rotation under load: 8 loops post AdmissionReviews over HTTPS (4 over kept-alive
// connections, 4 on a new connection each time) while the serving pair is rotated several times (new key
// and certificate from the same CA, each file written to a temporary name and renamed over the live
// one, as a Secret volume update is atomic). No request fails, and after each reload a new connection
// is served exactly the new certificate. The check is real: a pair from a CA the client does not trust
// makes new connections fail.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { connect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { startServer } from '../../src/server/serve.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { makeServerCertificate, makeTestTls } from '../support/tls.ts';

const quiet = new Writable({ write: (_c, _e, done) => done() });
const LOOPS = 8;
const ROTATIONS = 4;
/** Requests completed by each kind of loop between two rotations (the load really spans each one). */
const PER_ROTATION = 30;
/** Upper bound on each loop, so the load is bounded even if something never settles. */
const MAX_PER_LOOP = 5_000;

interface Issued {
  readonly certFile: string;
  readonly keyFile: string;
  readonly fingerprint256: string;
  readonly serialNumber: string;
}

/** A new key and server certificate for 127.0.0.1, signed by the CA that makeTestTls left in caDir. */
function issue(caDir: string, name: string): Issued {
  const { certFile, keyFile } = makeServerCertificate(caDir, name);
  return described(certFile, keyFile);
}

function described(certFile: string, keyFile: string): Issued {
  const x509 = new X509Certificate(readFileSync(certFile));
  return { certFile, keyFile, fingerprint256: x509.fingerprint256, serialNumber: x509.serialNumber };
}

/** Temp file + rename over the live name, for the key then the certificate. */
function install(pair: Issued, live: { certFile: string; keyFile: string }): void {
  for (const [from, to] of [
    [pair.keyFile, live.keyFile],
    [pair.certFile, live.certFile],
  ] as const) {
    const temp = `${to}.tmp`;
    writeFileSync(temp, readFileSync(from));
    renameSync(temp, to);
  }
}

/** A fresh TLS connection: the certificate it was served (verified against `ca`). */
function servedCertificate(
  port: number,
  ca: string,
): Promise<{ fingerprint256: string; serialNumber: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const peer = socket.getPeerCertificate();
      socket.end();
      resolve({ fingerprint256: peer.fingerprint256, serialNumber: peer.serialNumber });
    });
    socket.once('error', reject);
  });
}

const reviewBody = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'rotation' },
});

function post(
  port: number,
  ca: string,
  agent: https.Agent | false,
): Promise<{ status: number; reused: boolean; fingerprint256: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/validate',
        method: 'POST',
        ca,
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const fingerprint256 = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { response?: { uid?: string } };
          if (body.response?.uid !== 'rotation') reject(new Error(`unexpected body ${JSON.stringify(body)}`));
          else resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, fingerprint256 });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(reviewBody);
  });
}

test(
  'certificate rotated under load: no request fails, new connections get the new certificate',
  { timeout: 60_000 },
  async () => {
    const base = mkdtempSync(join(tmpdir(), 'sigward-rotation-'));
    const trusted = makeTestTls(base);
    const first = described(trusted.certFile, trusted.keyFile);
    const pairs = Array.from({ length: ROTATIONS }, (_, i) => issue(base, `rotated-${i}`));
    const foreign = makeTestTls(mkdtempSync(join(tmpdir(), 'sigward-rotation-foreign-')));
    const foreignPair = described(foreign.certFile, foreign.keyFile);
    const live = mkdtempSync(join(tmpdir(), 'sigward-rotation-live-'));
    const files = { certFile: join(live, 'tls.crt'), keyFile: join(live, 'tls.key') };
    copyFileSync(first.certFile, files.certFile);
    copyFileSync(first.keyFile, files.keyFile);
    const all = [first, ...pairs];
    assert.equal(new Set(all.map((p) => p.serialNumber)).size, all.length, 'distinct serials');

    // Each reload resolves the oldest waiter; the waiter is registered before the files change.
    let reloads = 0;
    let onReload: (() => void) | undefined;
    const nextReload = () => new Promise<void>((resolve) => (onReload = resolve));
    // Progress of the load, per kind of loop, awaited (never slept on) between rotations: both the kept-alive
    // and the new-connection loops carry requests across each swap.
    const done = { kept: 0, fresh: 0 };
    let progressWaiter: { kept: number; fresh: number; resolve: () => void } | undefined;
    const progressed = (count: number) =>
      new Promise<void>((resolve) => {
        progressWaiter = { kept: done.kept + count, fresh: done.fresh + count, resolve };
      });

    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      tls: files,
      certPollMs: 25,
      onCertificateReloaded: () => {
        reloads++;
        onReload?.();
        onReload = undefined;
      },
      handleReview: async (body) => ({
        ok: true,
        review: {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: (body as { request: { uid: string } }).request.uid, allowed: true },
        },
        decision: 'allow',
        kind: 'Pod',
        mode: 'enforce',
        operation: 'CREATE',
      }),
      readiness: () => ({ ready: true, reasons: [] }),
      metrics: createMetrics({ processMetrics: false }),
      logger: createLogger({ destination: quiet }),
    });

    const failures: unknown[] = [];
    const seen = new Set<string>();
    let reused = 0;
    let stop = false;
    const agents: https.Agent[] = [];
    const loop = async (keepAlive: boolean): Promise<void> => {
      const agent = keepAlive ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : false;
      if (agent) agents.push(agent);
      for (let i = 0; i < MAX_PER_LOOP && !stop; i++) {
        try {
          const r = await post(server.port, trusted.caPem, agent);
          if (r.status !== 200) failures.push(new Error(`status ${r.status}`));
          if (r.reused) reused++;
          if (!r.reused) seen.add(r.fingerprint256);
        } catch (error) {
          failures.push(error);
        }
        done[keepAlive ? 'kept' : 'fresh']++;
        if (progressWaiter && done.kept >= progressWaiter.kept && done.fresh >= progressWaiter.fresh) {
          progressWaiter.resolve();
          progressWaiter = undefined;
        }
      }
    };

    try {
      assert.deepEqual(await servedCertificate(server.port, trusted.caPem), {
        fingerprint256: first.fingerprint256,
        serialNumber: first.serialNumber,
      });
      let load: Promise<void[]> | undefined;
      try {
        const warm = progressed(PER_ROTATION);
        load = Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(i % 2 === 0)));
        await warm;
        for (const pair of pairs) {
          const reloaded = nextReload();
          install(pair, files);
          await reloaded;
          assert.deepEqual(
            await servedCertificate(server.port, trusted.caPem),
            { fingerprint256: pair.fingerprint256, serialNumber: pair.serialNumber },
            'a new connection is served the rotated certificate',
          );
          // The load goes on across the swap before the next one.
          await progressed(PER_ROTATION);
        }
      } finally {
        stop = true;
        await load;
        for (const agent of agents) agent.destroy();
      }
      assert.deepEqual(failures, [], `${failures.length} of ${done.kept + done.fresh} requests failed`);
      assert.equal(reloads, ROTATIONS, 'one reload per rotation (a half-written pair is never served)');
      assert.ok(done.fresh >= PER_ROTATION * (ROTATIONS + 1), `${done.fresh} requests on new connections`);
      assert.ok(reused > 0, 'kept-alive connections carried requests across the rotations');
      for (const fingerprint of seen)
        assert.ok(
          all.some((p) => p.fingerprint256 === fingerprint),
          `served ${fingerprint}, not one of the issued pairs`,
        );
      assert.ok(seen.has(pairs.at(-1)!.fingerprint256), 'new connections under load saw the last pair');

      // A pair from another CA: it is served (the client without verification sees it), and a client
      // trusting only our CA can no longer connect.
      const reloaded = nextReload();
      install(foreignPair, files);
      await reloaded;
      assert.equal(
        (await servedCertificate(server.port, foreign.caPem)).fingerprint256,
        foreignPair.fingerprint256,
      );
      await assert.rejects(servedCertificate(server.port, trusted.caPem), (error: NodeJS.ErrnoException) => {
        assert.match(String(error.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
        return true;
      });
      await assert.rejects(post(server.port, trusted.caPem, false));
    } finally {
      await server.shutdown();
    }
  },
);
