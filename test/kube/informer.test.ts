// The informer wrapper against a small fake apiserver: a failing list is retried with backoff until it
// succeeds (synced only then), watch events rebuild the policy snapshot, and a dropped watch re-lists.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { ClusterPolicySource } from '../../src/kube/cluster-source.ts';
import type { PolicySnapshot } from '../../src/kube/snapshot.ts';
import { clusterPolicy, kubewardenAuthority } from '../engine/harness.ts';
import { plainKubeClient } from '../support/kube-client.ts';

test('list failures back off and retry; watch events and a re-list update the snapshot', async () => {
  let listFailures = 2;
  let items: object[] = [clusterPolicy('one', ['ghcr.io/o/**'], [kubewardenAuthority()])];
  const watches: ServerResponse[] = [];
  let lists = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const plural = url.pathname.split('/').at(-1);
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      if (plural === 'clusterimagepolicies') watches.push(res);
      return;
    }
    if (plural === 'clusterimagepolicies') {
      lists++;
      if (listFailures-- > 0) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: 500, message: 'etcd is sad' }));
        return;
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'List',
        metadata: { resourceVersion: String(lists) },
        items: plural === 'clusterimagepolicies' ? items : [],
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  const snapshots: PolicySnapshot[] = [];
  let waiter: ((s: PolicySnapshot) => void) | undefined;
  const next = () => new Promise<PolicySnapshot>((r) => (waiter = r));
  const failures: string[] = [];
  let onSynced!: (s: PolicySnapshot) => void;
  const synced = new Promise<PolicySnapshot>((r) => (onSynced = r));
  const source = new ClusterPolicySource(plainKubeClient(port), {
    isLeader: () => false,
    backoff: { initialMs: 5, maxMs: 20 },
    events: {
      changed: (s) => {
        snapshots.push(s);
        waiter?.(s);
      },
      synced: (s) => onSynced(s),
      informerFailed: (kind, _e, retryInMs) => failures.push(`${kind} retry in ${retryInMs} ms`),
    },
  });
  try {
    void source.start();
    const snapshot = await synced;
    assert.deepEqual(
      snapshot.policies.map((p) => p.name),
      ['one'],
    );
    assert.equal(failures.length, 2, failures.join('; '));
    assert.ok(failures.every((f) => f.startsWith('ClusterImagePolicy retry in')));

    // A watch event: a new policy appears.
    const added = next();
    const two = clusterPolicy('two', ['ghcr.io/t/**'], [kubewardenAuthority()]);
    watches
      .at(-1)
      ?.write(
        `${JSON.stringify({ type: 'ADDED', object: { ...two, metadata: { ...two.metadata, resourceVersion: '50' } } })}\n`,
      );
    assert.deepEqual((await added).policies.map((p) => p.name).sort(), ['one', 'two']);

    // The watch drops with 410 Gone: the informer re-lists and sees what changed meanwhile.
    items = [clusterPolicy('three', ['ghcr.io/x/**'], [kubewardenAuthority()])];
    const relisted = next();
    watches
      .at(-1)
      ?.end(
        `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old' } })}\n`,
      );
    let latest = await relisted;
    while (!latest.policies.some((p) => p.name === 'three')) latest = await next();
    assert.deepEqual(
      latest.policies.map((p) => p.name),
      ['three'],
    );
  } finally {
    await source.stop();
    for (const w of watches) w.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
