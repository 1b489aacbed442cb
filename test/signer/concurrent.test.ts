// Signers that run at once (parallel CI jobs signing one image) on a registry without the referrers
// API all end up in the fallback tag index (and in the legacy .sig manifest): docker-registry has no If-Match, so the index is read
// back after each write and a lost entry is added again.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient } from '../../src/oci/client.ts';
import { referenceIn, type RepositoryName } from '../../src/oci/reference.ts';
import { digestOf } from '../../src/oci/digest.ts';
import {
  ANNOTATION,
  BUNDLE_ARTIFACT_TYPE,
  COSIGN_SIGN_PREDICATE_TYPE,
  legacyTag,
} from '../../src/sigstore/layout.ts';
import { attachLegacySignature } from '../../src/signer/attach-legacy.ts';
import { simpleSigningPayload } from '../../src/signer/payloads.ts';
import { attachBundle } from '../../src/signer/attach.ts';
import { withRetries } from '../../src/signer/retry.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { pushTestImage } from '../support/images.ts';

let registry: DockerRegistry;

before(async () => {
  registry = await startDockerRegistry();
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await registry?.stop();
});

test('eight signers at once: every referrer is listed in the fallback index', async () => {
  const setup = new RegistryClient();
  const name = { registry: registry.host, repository: 'signer/parallel' };
  const image = await pushTestImage(setup, name, { tag: 'v1' });
  await setup.close();
  const signers = Array.from({ length: 8 }, () => new RegistryClient());
  try {
    const attached = await Promise.all(
      // With the retries of transient failures sign-image.ts wraps every attach in.
      signers.map((client, i) =>
        withRetries(
          () =>
            attachBundle(
              client,
              { name, descriptor: image.descriptor },
              Buffer.from(JSON.stringify({ mediaType: BUNDLE_ARTIFACT_TYPE, signer: i })),
              { predicateType: COSIGN_SIGN_PREDICATE_TYPE, created: new Date('2026-11-24T12:00:00Z') },
            ),
          { baseDelayMs: 50, attempts: 4 },
        ),
      ),
    );
    const check = new RegistryClient();
    const listed = await check.listReferrers(name, image.descriptor.digest);
    await check.close();
    assert.deepEqual(
      listed.descriptors.map((d) => d.digest).sort(),
      attached.map((a) => a.manifestDigest).sort(),
    );
  } finally {
    await Promise.all(signers.map((c) => c.close()));
  }
});

test('six legacy signers at once: the .sig manifest ends up with every layer', async () => {
  const setup = new RegistryClient();
  const name = { registry: registry.host, repository: 'signer/parallel-legacy' };
  const image = await pushTestImage(setup, name, { tag: 'v1' });
  const signers = Array.from({ length: 6 }, () => new RegistryClient());
  const payload = simpleSigningPayload(`${name.registry}/${name.repository}`, image.digest);
  try {
    await Promise.all(
      signers.map((client, i) =>
        withRetries(
          () =>
            attachLegacySignature(client, { name, descriptor: image.descriptor }, payload, {
              [ANNOTATION.signature]: Buffer.from(`signature-${i}`).toString('base64'),
            }),
          { baseDelayMs: 50, attempts: 4 },
        ),
      ),
    );
    assert.deepEqual(
      await legacySignatures(setup, name, image.digest),
      signers.map((_, i) => `signature-${i}`).sort(),
    );
  } finally {
    await Promise.all([setup, ...signers].map((c) => c.close()));
  }
});

test('a signer whose manifest write comes after another signer created the tag starts again from it: both layers stay', async () => {
  // Signer A goes through a proxy that holds its config-blob check until signer B has attached in full:
  // A read the tag while it was absent, so writing its own manifest then would drop B's layer.
  const proxy = await startFaultProxy({ upstream: registry.url });
  const setup = new RegistryClient();
  const name = { registry: registry.host, repository: 'signer/overtaken-legacy' };
  const image = await pushTestImage(setup, name, { tag: 'v1' });
  const payload = simpleSigningPayload(`${name.registry}/${name.repository}`, image.digest);
  const payloadHex = digestOf(payload).slice('sha256:'.length);
  let release: (value?: unknown) => void = () => undefined;
  const held = proxy.addFault({
    method: 'HEAD',
    // Any blob but the payload: the config blob, pushed between reading and writing the tag.
    path: new RegExp(`/blobs/sha256:(?!${payloadHex})`),
    fault: { kind: 'hold', release: new Promise((resolve) => (release = resolve)) },
    times: 1,
  });
  const viaProxy = { registry: proxy.host, repository: name.repository };
  const a = new RegistryClient();
  const b = new RegistryClient();
  try {
    const configHeld = proxy.nextRequest(new RegExp(`/blobs/sha256:(?!${payloadHex})`));
    const signing = attachLegacySignature(a, { name: viaProxy, descriptor: image.descriptor }, payload, {
      [ANNOTATION.signature]: Buffer.from('signature-a').toString('base64'),
    });
    await configHeld;
    await attachLegacySignature(b, { name, descriptor: image.descriptor }, payload, {
      [ANNOTATION.signature]: Buffer.from('signature-b').toString('base64'),
    });
    release();
    await signing;
    assert.equal(held.hits, 1);
    assert.deepEqual(await legacySignatures(setup, name, image.digest), ['signature-a', 'signature-b']);
  } finally {
    release();
    await Promise.all([setup, a, b].map((c) => c.close()));
    await proxy.close();
  }
});

/** The signatures (annotation values, sorted) the image's legacy `.sig` tag holds. */
async function legacySignatures(
  client: RegistryClient,
  name: RepositoryName,
  digest: string,
): Promise<string[]> {
  const stored = await client.getManifest(referenceIn(name, legacyTag(digest)));
  if (stored.manifest.kind !== 'manifest') assert.fail('a .sig manifest');
  return stored.manifest.layers
    .map((l) => Buffer.from(l.annotations?.[ANNOTATION.signature] ?? '', 'base64').toString())
    .sort();
}
