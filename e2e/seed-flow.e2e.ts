// The seed's flow with real parts only, as README.md shows it: a service-account token from the local
// apiserver (audience sigstore) is the signer's identity; cosign v3 keyless-signs an image in the local
// registry (Fulcio certificate, Rekor v2 entry, TSA timestamp); `cosign verify` accepts that identity and
// the apiserver's issuer, and refuses another identity and another issuer. Once with the referrers API,
// once against the older registry that needs the fallback tag.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeSecretFile } from './world/clients.ts';
import { pushImage, type PushedImage } from './world/images.ts';
import type { Registry } from './world/registry.ts';
import { startWorld, type World } from './world/world.ts';

const namespace = 'apps';
const signer = 'release';
const identityOf = (sa: string) => `https://kubernetes.io/namespaces/${namespace}/serviceaccounts/${sa}`;

describe('seed flow: a service-account token signs, cosign verifies the identity', () => {
  let world: World;
  let failed = false;

  before(async () => {
    world = await startWorld();
    await world.kube.ensureNamespace(namespace);
    await world.kube.createServiceAccount(namespace, signer);
  });
  after(async () => {
    const kept = await world?.stop(failed ? { keepLogsAs: 'seed-flow' } : {});
    if (kept) console.error(`seed-flow e2e: logs kept in ${kept}`);
  });

  async function signWithServiceAccountToken(image: PushedImage): Promise<void> {
    // What a Job's projected token is: a real TokenRequest against the apiserver, audience sigstore.
    const token = await world.kube.createToken(namespace, signer, { audience: 'sigstore' });
    const tokenFile = writeSecretFile(world.runDir.sub('tokens'), `${image.digest.slice(7, 19)}`, token);
    await world.clients.cosign([
      'sign',
      '--yes',
      `--identity-token=${tokenFile}`,
      `--signing-config=${world.sigstore.signingConfigPath}`,
      `--trusted-root=${world.sigstore.trustedRootPath}`,
      image.byDigest,
    ]);
  }

  function verify(image: PushedImage, identity: string, issuer = world.kube.issuer) {
    return world.clients.cosign(
      [
        'verify',
        `--trusted-root=${world.sigstore.trustedRootPath}`,
        `--certificate-identity=${identity}`,
        `--certificate-oidc-issuer=${issuer}`,
        // This tier runs no CT log, so Fulcio's certificates carry no SCT (the full tier has one).
        '--insecure-ignore-sct',
        image.byDigest,
      ],
      { check: false },
    );
  }

  for (const which of ['referrers', 'fallback'] as const) {
    test(`signed and verified on the ${which === 'referrers' ? 'referrers API' : 'fallback tag'} registry`, async () => {
      try {
        const registry: Registry = world.registries[which];
        const image = await pushImage(
          { crane: world.clients.crane, workDir: world.runDir.sub('images') },
          registry.host,
          'apps/web',
          'v1',
        );
        await signWithServiceAccountToken(image);

        const accepted = await verify(image, identityOf(signer));
        assert.equal(accepted.code, 0, accepted.stderr);
        const [verified] = JSON.parse(accepted.stdout) as {
          critical: { image: { 'docker-manifest-digest': string } };
        }[];
        assert.equal(verified?.critical.image['docker-manifest-digest'], image.digest);

        const otherIdentity = await verify(image, identityOf('intruder'));
        assert.notEqual(otherIdentity.code, 0);
        assert.ok(
          otherIdentity.stderr.includes(
            `expected SAN value "${identityOf('intruder')}", got "${identityOf(signer)}"`,
          ),
          otherIdentity.stderr,
        );

        const otherIssuer = await verify(image, identityOf(signer), 'https://issuer.example.com');
        assert.notEqual(otherIssuer.code, 0);
        assert.ok(
          otherIssuer.stderr.includes(
            `expected issuer value "https://issuer.example.com", got "${world.kube.issuer}"`,
          ),
          otherIssuer.stderr,
        );
      } catch (error) {
        failed = true;
        throw error;
      }
    });
  }
});
