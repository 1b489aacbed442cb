// Leader election on a Lease (a fake coordination API with the apiserver's optimistic concurrency):
// of two replicas exactly one writes status; when it stops it releases the Lease and the other takes
// over at its next renewal, without waiting for the lease to expire.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeApiError } from '../../src/kube/client/errors.ts';
import type { LeaseApi } from '../../src/kube/client/apis.ts';
import type { Lease } from '../../src/kube/client/resources.ts';
import { LeaderElector } from '../../src/kube/leader.ts';

function fakeCoordination(): Pick<LeaseApi, 'read' | 'create' | 'replace'> {
  let stored: Lease | undefined;
  let version = 0;
  const conflict = () => new KubeApiError(409, 'Conflict', 'conflict', 'fake');
  return {
    read: async () => {
      if (stored === undefined) throw new KubeApiError(404, 'NotFound', 'not found', 'fake');
      return structuredClone(stored);
    },
    create: async (_namespace: string, body: Lease) => {
      if (stored !== undefined) throw conflict();
      stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++version) } };
      return stored;
    },
    replace: async (_ref: unknown, body: Lease) => {
      if (body.metadata?.resourceVersion !== stored?.metadata?.resourceVersion) throw conflict();
      stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++version) } };
      return stored;
    },
  };
}

test('one leader of two; a stopped leader hands over at once', async () => {
  const api = fakeCoordination();
  const changes: string[] = [];
  let notify: (() => void) | undefined;
  const changed = () => new Promise<void>((r) => (notify = r));
  const elector = (identity: string) =>
    new LeaderElector(api, {
      namespace: 'sigward',
      name: 'sigward-status-writer',
      identity,
      renewMs: 10,
      leaseDurationSeconds: 60,
      onChange: (leading) => {
        changes.push(`${identity} ${leading ? 'leads' : 'follows'}`);
        notify?.();
      },
    });
  const a = elector('a');
  const b = elector('b');
  let next = changed();
  a.start();
  await next;
  b.start();
  // b renews a few times and must stay a follower while a holds an unexpired lease.
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(a.leading, true);
  assert.equal(b.leading, false);
  next = changed();
  await a.stop();
  await next; // a follows
  next = changed();
  await next; // b leads
  assert.equal(b.leading, true);
  assert.deepEqual(changes, ['a leads', 'a follows', 'b leads']);
  await b.stop();
});
