// Signers that run at once (parallel CI jobs signing one image) on a registry without the referrers
// API all end up in the fallback tag index: docker-registry has no If-Match, so the index is read
// back after each write and a lost entry is added again.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient } from '../../src/oci/client.ts';
import { BUNDLE_ARTIFACT_TYPE, COSIGN_SIGN_PREDICATE_TYPE } from '../../src/sigstore/layout.ts';
import { attachBundle } from '../../src/signer/attach.ts';
import { withRetries } from '../../src/signer/retry.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
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
