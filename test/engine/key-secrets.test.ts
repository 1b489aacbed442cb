// Policies whose material lives in Secrets, through the engine with the real kube/ readers (over the
// real Kubernetes client, against test/support/secrets-api.ts) and real registries: a key Secret that is
// rotated, deleted and restored changes the verdict at its next read, with no stale cached allow; and
// a signature repository behind authentication is read with the policy's pullSecretRef (sigward's
// namespace for a ClusterImagePolicy, the policy's own for an ImagePolicy).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Decider } from '../../src/engine/decide.ts';
import { RegistryAccess } from '../../src/engine/registry-adapters.ts';
import { ReviewEngine } from '../../src/engine/review.ts';
import { PullSecretKeychains } from '../../src/kube/pull-secrets.ts';
import { SecretPublicKeys } from '../../src/kube/public-keys.ts';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import { staticKeychain } from '../../src/oci/auth.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import { startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import { startSecretsApi } from '../support/secrets-api.ts';
import type { SecretsApi } from '../support/secrets-api.ts';
import { pushLegacySignature, testSigner } from '../sigstore/discover-fixtures.ts';
import { prodRoot } from '../sigstore/ext.ts';
import { API, clusterPolicy, pemOf, podReview, pushFixtures, responseOf } from './harness.ts';
import type { Fixtures } from './harness.ts';

const REFRESH_MS = 5_000;
const PULLER = { username: 'sig-reader', password: 'sig-reader-password' };

let registry: DockerRegistry;
let signatures: DockerRegistry;
let api: SecretsApi;
let fx: Fixtures;
let host: string;

before(async () => {
  [registry, signatures, api] = await Promise.all([
    startDockerRegistry(),
    startDockerRegistry({ auth: { kind: 'htpasswd', users: { [PULLER.username]: PULLER.password } } }),
    startSecretsApi(),
  ]);
  host = registry.host;
  fx = await pushFixtures(host);
  // The same key signature, stored in another repository that needs a login (cosign COSIGN_REPOSITORY).
  const client = new RegistryClient({
    keychain: staticKeychain({ [signatures.host]: { kind: 'basic', ...PULLER } }),
  });
  try {
    await pushLegacySignature(
      client,
      { registry: signatures.host, repository: 'sigs/api' },
      fx.keySigned.digest,
      [fx.signer.layerFor(fx.keySigned.digest, `${host}/apps/api`)],
    );
  } finally {
    await client.close();
  }
});
after(async () => {
  await Promise.all([registry?.stop(), signatures?.stop(), api?.close()]);
});

/** The engine as cli/webhook wires it with a cluster: key Secrets and pull secrets read through kube/. */
function engineWith(resources: unknown[], clock: { now: number }) {
  const access = new RegistryAccess({ maxRetries: 0 });
  let verifications = 0;
  const snapshot = buildSnapshot(resources);
  const engine = new ReviewEngine({
    decider: new Decider(
      {
        resolver: access,
        verifier: access,
        trustRoots: { trustRoot: () => prodRoot() },
        keys: new SecretPublicKeys(api.core, { refreshMs: REFRESH_MS, now: () => clock.now }),
        credentials: new PullSecretKeychains(api.core),
        observer: { verification: () => void verifications++ },
      },
      { deadlineMs: 5000, evaluation: { unmatched: 'deny', errors: 'deny' }, ownNamespace: 'sigward' },
    ),
    policies: { current: () => snapshot },
    skip: { ownNamespace: 'sigward', scope: 'opt-out' },
  });
  return {
    async review(image: string, namespace = 'apps') {
      const result = await engine.handle(podReview([image], { namespace }), 'validate');
      assert.ok(result.ok);
      return responseOf(result);
    },
    verifications: () => verifications,
    close: () => access.close(),
  };
}

const readsOf = (id: string) => api.reads.filter((r) => r === id).length;

describe('a key held in a Secret', () => {
  test('rotated: the old signature is denied at the next read; deleted: a clear denial; restored: admitted', async () => {
    const pem = pemOf(fx.signer.publicKey);
    api.set('sigward', 'cosign', { 'cosign.pub': pem });
    const clock = { now: 0 };
    const e = engineWith(
      [
        clusterPolicy(
          'secret-key',
          ['127.0.0.1:*/apps/**'],
          [{ name: 'ci-key', key: { secretRef: { name: 'cosign' } }, insecureIgnoreTlog: true }],
        ),
      ],
      clock,
    );
    const image = fx.keySigned.tagged(host);
    try {
      const admitted = await e.review(image);
      assert.equal(admitted.allowed, true, JSON.stringify(admitted));
      // A burst within the refresh interval: one Secret read, one verification, the rest cache hits.
      const burst = await Promise.all(Array.from({ length: 50 }, () => e.review(image)));
      assert.ok(burst.every((r) => r.allowed));
      assert.equal(readsOf('sigward/cosign'), 1);
      assert.equal(e.verifications(), 1);

      // Rotated to another key: the cached allow is not this key's verdict. (A legacy .sig names no key,
      // so the old signature simply does not verify under the new one.)
      api.set('sigward', 'cosign', { 'cosign.pub': pemOf(testSigner().publicKey) });
      clock.now += REFRESH_MS;
      const rotated = await e.review(image);
      assert.equal(rotated.allowed, false, JSON.stringify(rotated));
      assert.match(
        rotated.status?.message ?? '',
        new RegExp(
          `digest ${fx.keySigned.digest}\\) in spec\\.containers\\[0\\]\\.image: policy secret-key, authority ci-key: none of 1 signature\\(s\\) is valid: .*\\[SIGNATURE_INVALID\\]$`,
        ),
      );
      assert.equal(e.verifications(), 2);

      api.delete('sigward', 'cosign');
      clock.now += REFRESH_MS;
      const deleted = await e.review(image);
      assert.equal(deleted.allowed, false);
      assert.match(
        deleted.status?.message ?? '',
        /policy secret-key, authority ci-key: the key Secret sigward\/cosign does not exist \[POLICY_INVALID\]$/,
      );

      // Restored: the original key's verdict (still cached) applies again.
      api.set('sigward', 'cosign', { 'cosign.pub': pem });
      clock.now += REFRESH_MS;
      assert.equal((await e.review(image)).allowed, true);
      assert.equal(readsOf('sigward/cosign'), 4);
    } finally {
      await e.close();
    }
  });
});

describe('signatureRepository.pullSecretRef', () => {
  const dockerConfig = (registryHost: string, user: { username: string; password: string }) => ({
    '.dockerconfigjson': JSON.stringify({
      auths: {
        [registryHost]: { auth: Buffer.from(`${user.username}:${user.password}`).toString('base64') },
      },
    }),
  });
  const keyAuthority = () => ({
    name: 'ci-key',
    key: { data: pemOf(fx.signer.publicKey) },
    insecureIgnoreTlog: true,
  });
  const stored = (pullSecret?: string) => ({
    signatureRepository: {
      repository: `${signatures.host}/sigs/api`,
      ...(pullSecret === undefined ? {} : { pullSecretRef: { name: pullSecret } }),
    },
  });

  test("a ClusterImagePolicy's pull secret, from sigward's namespace, opens the signature repository", async () => {
    api.set('sigward', 'sig-pull', dockerConfig(signatures.host, PULLER), 'kubernetes.io/dockerconfigjson');
    // The workload's namespace holds a secret of that name too: it must not be the one read.
    api.set('apps', 'sig-pull', dockerConfig(signatures.host, { username: 'x', password: 'y' }));
    const image = fx.keySigned.tagged(host);
    const policy = (extra: Record<string, unknown>) =>
      clusterPolicy('stored-elsewhere', [`${host}/apps/api`], [keyAuthority()], extra);

    const without = engineWith([policy(stored())], { now: 0 });
    const anonymous = await without.review(image);
    await without.close();
    assert.equal(anonymous.allowed, false);
    assert.match(anonymous.status?.message ?? '', /\[REGISTRY_AUTH\]$/);

    const e = engineWith([policy(stored('sig-pull'))], { now: 0 });
    try {
      const admitted = await e.review(image);
      assert.equal(admitted.allowed, true, JSON.stringify(admitted));
      assert.equal(readsOf('sigward/sig-pull'), 1);
      assert.equal(readsOf('apps/sig-pull'), 0);
    } finally {
      await e.close();
    }

    const missing = engineWith([policy(stored('absent'))], { now: 0 });
    const denied = await missing.review(image);
    await missing.close();
    assert.equal(denied.allowed, false);
    assert.match(
      denied.status?.message ?? '',
      /policy stored-elsewhere, authority ci-key: the pull secret sigward\/absent does not exist \(signatureRepository\.pullSecretRef\) \[POLICY_INVALID\]$/,
    );
  });

  test("an ImagePolicy's pull secret comes from the policy's own namespace", async () => {
    api.set('team', 'team-pull', dockerConfig(signatures.host, PULLER), 'kubernetes.io/dockerconfigjson');
    const policy = {
      apiVersion: API,
      kind: 'ImagePolicy',
      metadata: { name: 'team-stored', namespace: 'team', generation: 1, uid: 'uid-team-stored' },
      spec: { images: [`${host}/apps/api`], authorities: [keyAuthority()], ...stored('team-pull') },
    };
    const e = engineWith([policy], { now: 0 });
    try {
      const admitted = await e.review(fx.keySigned.tagged(host), 'team');
      assert.equal(admitted.allowed, true, JSON.stringify(admitted));
      assert.equal(readsOf('team/team-pull'), 1);
      assert.equal(readsOf('sigward/team-pull'), 0);
    } finally {
      await e.close();
    }
  });
});
