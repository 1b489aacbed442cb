// The `verifyImage alone` participant of `npm run bench:policy-controller --verify-alone`: a process of
// its own verifying the signed image in each repository it is sent (a real docker-registry, the real
// legacy `.sig` fixture). Its figures sit beside the webhook's, so a verification that fails must fail
// the run (never be counted as a fast one), and a crash must not hang it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RegistryClient } from '../../src/oci/client.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { fulcioRekor, pushLegacySignature } from '../sigstore/discover-fixtures.ts';
import { startVerifier, type Verifier } from '../../bench/policy-controller-world.ts';
import { repoRoot } from '../../e2e/world/tools.ts';

describe('verifyImage alone (bench:policy-controller --verify-alone)', () => {
  let registry: DockerRegistry;
  let verifier: Verifier;
  const signed = ['pc/a', 'pc/b', 'pc/c'];
  const image = () => ({
    registry: registry.host,
    digest: fulcioRekor.digest,
    subject: fulcioRekor.subject,
    issuer: fulcioRekor.issuer,
  });

  before(async () => {
    registry = await startDockerRegistry();
    const client = new RegistryClient();
    for (const repository of signed)
      await pushLegacySignature(client, { registry: registry.host, repository }, fulcioRekor.digest, [
        fulcioRekor.layer(),
      ]);
    await client.close();
    verifier = await startVerifier(image(), repoRoot);
  });
  after(async () => {
    await verifier?.stop();
    await registry?.stop();
  });

  it('verifies the image in every repository sent and counts its process CPU over all of them', async () => {
    const load = await verifier.run(1, signed);
    assert.equal(load.requests, signed.length - 1, 'the first image opens the connection, unmeasured');
    assert.ok(load.cpuMsPerReview > 0, `CPU per image ${load.cpuMsPerReview}`);
    assert.ok(load.sysMsPerReview >= 0 && load.sysMsPerReview <= load.cpuMsPerReview);
    assert.ok(load.p50Ms > 0 && load.p99Ms >= load.p50Ms);
  });

  it('fails the run when an image in a repository is not signed', async () => {
    await assert.rejects(verifier.run(1, ['pc/a', 'pc/unsigned']), /verifyImage alone: .*pc\/unsigned/);
    // The process is still there for the next load.
    assert.equal((await verifier.run(1, signed)).requests, signed.length - 1);
  });

  it('fails the run when the signature is not by the identity asked for', async () => {
    const other = await startVerifier({ ...image(), subject: 'someone-else@example.com' }, repoRoot);
    try {
      await assert.rejects(other.run(1, signed), /verifyImage alone: .*pc\/a/);
    } finally {
      await other.stop();
    }
  });
});
