// The registry transport over TLS against a registry whose Go server offers HTTP/2 (ALPN h2 first):
// sigward speaks HTTP/1.1 keep-alive (undici offers h2 by default; see src/oci/http.ts for the
// figures), large uploads side by side arrive whole, and closing the client while bodies stream lets
// them finish without an error thrown outside any request (what undici's HTTP/2 pool did to the
// Kubernetes client, src/kube/client/http.ts).
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { SigwardError } from '../../src/errors.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { makeTestTls, type TestTls } from '../support/tls.ts';

let dir: string;
let certs: TestTls;
let registry: DockerRegistry;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sigward-tls-transport-'));
  certs = makeTestTls(dir);
  registry = await startDockerRegistry({ tls: certs });
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

const clientFor = (): RegistryClient => new RegistryClient({ ca: certs.caPem, plainHttpLoopback: false });

/** Calls `onMessage` for each message on an undici diagnostics channel while `run` runs. */
async function watching<T>(channel: string, onMessage: (message: unknown) => void, run: () => Promise<T>) {
  diagnostics.subscribe(channel, onMessage);
  try {
    return await run();
  } finally {
    diagnostics.unsubscribe(channel, onMessage);
  }
}

/** Errors thrown or rejected outside any awaited call while `run` runs. */
async function strayErrors(run: () => Promise<void>): Promise<unknown[]> {
  const stray: unknown[] = [];
  const onStray = (error: unknown): void => void stray.push(error);
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve)); // let a late error surface
  } finally {
    process.off('uncaughtException', onStray);
    process.off('unhandledRejection', onStray);
  }
  return stray;
}

test('a TLS registry that offers HTTP/2 is read over HTTP/1.1 kept alive', async () => {
  const offered = tls.connect({
    host: '127.0.0.1',
    port: Number(registry.host.split(':')[1]),
    ca: certs.caPem,
    ALPNProtocols: ['h2', 'http/1.1'],
  });
  await once(offered, 'secureConnect');
  assert.equal(offered.alpnProtocol, 'h2', 'the registry offers HTTP/2');
  offered.destroy();

  let client = clientFor();
  const protocols: unknown[] = [];
  try {
    const repo = { registry: registry.host, repository: 'tls/h1' };
    const pushed = await client.pushBlob(repo, randomBytes(1024));
    await client.close();
    client = clientFor();
    await watching(
      'undici:client:connected',
      (message) => protocols.push((message as { socket: TLSSocket }).socket.alpnProtocol),
      async () => {
        for (let i = 0; i < 20; i++) assert.equal((await client.getBlob(repo, pushed.digest)).length, 1024);
      },
    );
  } finally {
    await client.close();
  }
  // Kept alive: 20 requests in turn reuse their connections (undici opens a second one on the first reuse).
  assert.ok(protocols.length >= 1 && protocols.length < 20, `${protocols.length} connections`);
  assert.deepEqual(new Set(protocols), new Set(['http/1.1']));
});

test('four 8 MiB blobs pushed at once over TLS arrive whole', async () => {
  const client = clientFor();
  try {
    const repo = { registry: registry.host, repository: 'tls/uploads' };
    const blobs = Array.from({ length: 4 }, () => randomBytes(8 << 20));
    const pushed = await Promise.all(blobs.map((blob) => client.pushBlob(repo, blob)));
    for (const [i, blob] of blobs.entries()) {
      assert.equal(pushed[i]!.digest, digestOf(blob));
      assert.ok(Buffer.from(await client.getBlob(repo, pushed[i]!.digest)).equals(blob));
    }
  } finally {
    await client.close();
  }
});

test('closing the client while blobs stream: each read finishes whole, nothing is thrown outside a request, later requests fail as registry errors', async () => {
  const repo = { registry: registry.host, repository: 'tls/close' };
  const setup = clientFor();
  const blobs = [randomBytes(8 << 20), randomBytes(8 << 20)];
  const digests: string[] = [];
  try {
    for (const blob of blobs) digests.push((await setup.pushBlob(repo, blob)).digest);
  } finally {
    await setup.close();
  }
  const client = clientFor();
  let closing: Promise<void> | undefined;
  let reads: PromiseSettledResult<Uint8Array>[] = [];
  const stray = await strayErrors(async () => {
    // Closed as soon as the first response's headers arrive: both bodies are still on the wire.
    reads = await watching(
      'undici:request:headers',
      () => void (closing ??= client.close()),
      () => Promise.allSettled(digests.map((digest) => client.getBlob(repo, digest))),
    );
    await closing;
  });
  assert.ok(closing !== undefined, 'the client was closed mid-read');
  assert.deepEqual(stray, []);
  reads.forEach((read, i) => {
    assert.equal(read.status, 'fulfilled', String((read as PromiseRejectedResult).reason));
    assert.ok(Buffer.from((read as PromiseFulfilledResult<Uint8Array>).value).equals(blobs[i]!));
  });
  await assert.rejects(
    client.getBlob(repo, digests[0]!),
    (e: unknown) => e instanceof SigwardError && e.code.startsWith('REGISTRY_'),
  );
});
