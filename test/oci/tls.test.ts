// A registry over TLS: reachable with its CA given to the client, refused without it.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SigwardError } from '../../src/errors.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import { parseReference } from '../../src/oci/reference.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { pushTestImage } from '../support/images.ts';
import { makeTestTls, type TestTls } from '../support/tls.ts';

let dir: string;
let tls: TestTls;
let registry: DockerRegistry;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sigward-tls-'));
  tls = makeTestTls(dir);
  registry = await startDockerRegistry({ tls });
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('HTTPS with the registry CA trusted', async () => {
  const client = new RegistryClient({ ca: tls.caPem, plainHttpLoopback: false });
  try {
    const repo = { registry: registry.host, repository: 'tls/app' };
    const image = await pushTestImage(client, repo, { tag: 'v1' });
    assert.equal((await client.resolve(parseReference(`${registry.host}/tls/app:v1`))).digest, image.digest);
  } finally {
    await client.close();
  }
});

test('an untrusted certificate: REGISTRY_TLS', async () => {
  const client = new RegistryClient({ plainHttpLoopback: false });
  try {
    await assert.rejects(
      client.getManifest(parseReference(`${registry.host}/tls/app:v1`)),
      (e: unknown) => e instanceof SigwardError && e.code === 'REGISTRY_TLS',
    );
  } finally {
    await client.close();
  }
});

test('loopback defaults to plain HTTP, which a TLS registry refuses', async () => {
  const client = new RegistryClient({ ca: tls.caPem });
  try {
    await assert.rejects(client.getManifest(parseReference(`${registry.host}/tls/app:v1`)), (e: unknown) => {
      return e instanceof SigwardError && e.code.startsWith('REGISTRY_');
    });
  } finally {
    await client.close();
  }
});
