// The Pod informer of the re-check (kube/running-pods.ts) through the real informer (kube/informer.ts), against
// a small stand-in of the apiserver's Pods list and watch (HTTP on loopback, JSON lines as the apiserver
// streams them; the real apiserver is in e2e/policy-reports.e2e.ts). A failed first list says nothing
// (not synced: no report may be swept as empty); the retried list reports every running Pod (a finished
// one is not running), then synced(); a watch event that changes nothing the re-check reads
// (readiness) reports nothing; an image change or a new imageID reports that Pod alone; a deletion and a
// Pod finishing report its key as gone.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { RunningPods } from '../../src/kube/running-pods.ts';
import type { PodView } from '../../src/kube/running-pods.ts';
import { plainKubeClient } from '../support/kube-client.ts';

const DIGEST = `sha256:${'c'.repeat(64)}`;

function podJson(
  name: string,
  image: string,
  extra: { phase?: string; imageID?: string; ready?: boolean } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'apps',
      uid: `uid-${name}`,
      resourceVersion: String(Math.random()).slice(2, 8),
    },
    spec: { containers: [{ name: 'app', image }] },
    status: {
      phase: extra.phase ?? 'Running',
      containerStatuses:
        extra.imageID === undefined
          ? []
          : [{ name: 'app', image, imageID: extra.imageID, ready: extra.ready ?? false }],
    },
  };
}

test('first list, then only the Pods whose images, digests or existence changed', async () => {
  const watches: ServerResponse[] = [];
  let lists = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    assert.equal(url.pathname, '/api/v1/pods');
    if (url.searchParams.get('watch') !== 'true' && ++lists === 1) {
      // The first list fails, as while the apiserver's storage (re)initializes.
      res.writeHead(429, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 429, message: 'storage is (re)initializing' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    if (url.searchParams.get('watch') === 'true') {
      res.flushHeaders();
      watches.push(res);
      return;
    }
    res.end(
      JSON.stringify({
        kind: 'PodList',
        metadata: { resourceVersion: '1' },
        items: [
          podJson('web', 'registry.example/apps/web:1', { imageID: `registry.example/apps/web@${DIGEST}` }),
          podJson('job-done', 'registry.example/apps/job:1', { phase: 'Succeeded' }),
        ],
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const config = plainKubeClient(port);

  const reports: Array<{ upserted: PodView[]; removed: readonly string[] }> = [];
  let waiter: (() => void) | undefined;
  const next = () => new Promise<void>((r) => (waiter = r));
  let synced!: () => void;
  const wasSynced = new Promise<void>((r) => (synced = r));
  const failures: unknown[] = [];
  const pods = new RunningPods(
    config,
    {
      changed: (upserted, removed) => {
        reports.push({ upserted: [...upserted], removed });
        waiter?.();
      },
      synced: () => {
        assert.equal(reports.length, 1, 'every listed Pod is reported before synced()');
        synced();
      },
      failed: (error) => failures.push(error),
    },
    { initialMs: 5, maxMs: 20 },
  );
  const send = (type: string, object: object) =>
    watches.at(-1)?.write(`${JSON.stringify({ type, object })}\n`);
  try {
    await pods.start();
    assert.equal(pods.synced, false, 'a failed list says nothing about which Pods exist');
    assert.equal(reports.length, 0);
    await wasSynced;
    assert.equal(failures.length, 1);
    assert.deepEqual(
      reports[0]?.upserted.map((p) => p.key),
      ['apps/web'],
    );
    assert.deepEqual(reports[0]?.removed, []);
    while (watches.length === 0) await new Promise((r) => setImmediate(r));

    // Readiness flips (nothing the re-check reads), then a new Pod: only the new Pod is reported.
    let reported = next();
    send(
      'MODIFIED',
      podJson('web', 'registry.example/apps/web:1', {
        imageID: `registry.example/apps/web@${DIGEST}`,
        ready: true,
      }),
    );
    send('ADDED', podJson('api', 'registry.example/apps/api:2'));
    await reported;
    assert.deepEqual(
      reports.at(-1)?.upserted.map((p) => p.key),
      ['apps/api'],
    );

    // The kubelet reports the digest it pulled: the Pod is reported again, with it.
    reported = next();
    send(
      'MODIFIED',
      podJson('api', 'registry.example/apps/api:2', { imageID: `registry.example/apps/api@${DIGEST}` }),
    );
    await reported;
    const statuses = (reports.at(-1)?.upserted[0]?.object['status'] as { containerStatuses: unknown[] })
      .containerStatuses;
    assert.deepEqual(statuses, [{ name: 'app', imageID: `registry.example/apps/api@${DIGEST}` }]);

    // It finishes, and the other is deleted: both are gone.
    reported = next();
    send('MODIFIED', podJson('api', 'registry.example/apps/api:2', { phase: 'Succeeded' }));
    send('DELETED', podJson('web', 'registry.example/apps/web:1'));
    await reported;
    assert.deepEqual(reports.at(-1)?.upserted, []);
    assert.deepEqual([...(reports.at(-1)?.removed ?? [])].sort(), ['apps/api', 'apps/web']);
    assert.deepEqual(pods.list(), []);
  } finally {
    await pods.stop();
    for (const w of watches) w.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
