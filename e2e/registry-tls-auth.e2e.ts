// The world's registries behind TLS (a private CA) and basic auth, as a private registry with pull
// secrets would be: olareg with the referrers API, Debian's docker-registry 2.8 and distribution v3
// (`registry:3`, the usual self-hosted one, same htpasswd and TLS config as 2.8). crane logs in and
// pushes; the referrers API answers as it does without TLS and auth once the client has credentials.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pushArtifactHttp } from './world/artifacts.ts';
import { createClients, withEnv, type Clients } from './world/clients.ts';
import { pushImage, type ImageTools } from './world/images.ts';
import { descriptorOf, getManifest, referrers } from './world/oci-http.ts';
import { createCa, issueServingCert } from './world/pki.ts';
import {
  probeReferrers,
  startDistributionV3,
  startDockerRegistry,
  startOlareg,
  type Registry,
  type RegistryTls,
} from './world/registry.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

describe('registries with TLS and basic auth', () => {
  let runDir: RunDir;
  let clients: Clients;
  let images: ImageTools;
  let failed = false;
  const check = stepsNotingFailure(() => (failed = true));

  before(() => {
    runDir = createRunDir('sigward-registry-tls-');
    clients = createClients(runDir);
    images = { crane: clients.crane, workDir: runDir.sub('images') };
  });

  after(() => {
    if (failed) console.error(`registry-tls-auth e2e: logs kept in ${runDir.keepLogs('registry-tls-auth')}`);
    runDir.remove();
  });

  const secured: { name: string; referrersStatus: number; start: (tls: RegistryTls) => Promise<Registry> }[] =
    [
      {
        name: 'olareg (referrers on)',
        referrersStatus: 200,
        start: (tls) =>
          startOlareg(runDir, {
            referrers: true,
            name: 'olareg-tls-auth',
            auth: { kind: 'htpasswd', users: { alice: 'alice-password' } },
            tls,
          }),
      },
      {
        name: 'docker-registry',
        referrersStatus: 404,
        start: (tls) =>
          startDockerRegistry(runDir, {
            name: 'docker-registry-tls-auth',
            auth: { kind: 'htpasswd', users: { alice: 'alice-password' } },
            tls,
          }),
      },
      {
        name: 'distribution v3',
        referrersStatus: 404,
        start: (tls) =>
          startDistributionV3(runDir, {
            name: 'distribution-v3-tls-auth',
            auth: { kind: 'htpasswd', users: { alice: 'alice-password' } },
            tls,
          }),
      },
    ];
  for (const variant of secured) {
    check(
      `${variant.name} with TLS and basic auth: crane logs in and pushes; referrers as without`,
      async () => {
        const dir = runDir.sub(`tls-${variant.name.replace(/\W+/g, '-')}`);
        const ca = await createCa(dir, 'registry-ca');
        const serving = await issueServingCert(ca, dir, 'registry');
        const registry = await variant.start({
          certFile: serving.certFile,
          keyFile: serving.keyFile,
          caPem: ca.certPem,
        });
        try {
          assert.match(registry.url, /^https:\/\/127\.0\.0\.1:\d+$/);
          assert.equal(registry.caPem, ca.certPem);
          assert.equal(registry.referrersStatus, variant.referrersStatus, 'probed with the credentials');
          // Go clients trust the registry through SSL_CERT_FILE; the login lands in the run dir's DOCKER_CONFIG.
          const crane = withEnv(clients.crane, { SSL_CERT_FILE: ca.certFile });
          const anonymous = await crane(['digest', `${registry.host}/private/app:v1`], { check: false });
          assert.notEqual(anonymous.code, 0);
          assert.match(anonymous.stderr, /UNAUTHORIZED|401/);
          await crane(['auth', 'login', registry.host, '-u', 'alice', '-p', 'alice-password']);
          const image = await pushImage(
            { crane, workDir: images.workDir },
            registry.host,
            'private/app',
            'v1',
          );
          assert.equal((await crane(['digest', image.ref])).stdout.trim(), image.digest);
          const authorization = `Basic ${Buffer.from('alice:alice-password').toString('base64')}`;
          const probe = { repository: 'private/app', ca: ca.certPem };
          assert.equal(
            await probeReferrers(registry.url, { ...probe, authorization }),
            variant.referrersStatus,
          );
          // olareg asks for credentials first; distribution (2.8 and v3) has no such route, so 404 even anonymously.
          assert.equal(
            await probeReferrers(registry.url, probe),
            variant.referrersStatus === 200 ? 401 : 404,
          );

          // The raw requests of the tests work here too, given the CA and the credentials.
          const endpoint = { url: registry.url, caPem: ca.certPem, authorization };
          const fetched = await getManifest(endpoint, 'private/app', 'v1');
          assert.equal(fetched?.headerDigest, image.digest);
          const subject = await descriptorOf(endpoint, 'private/app', image.digest);
          const artifact = await pushArtifactHttp(endpoint, 'private/app', subject);
          const listed = await referrers(endpoint, 'private/app', image.digest);
          assert.equal(listed.status, variant.referrersStatus);
          if (variant.referrersStatus === 200)
            assert.deepEqual(listed.index?.manifests, [artifact.descriptor]);
        } finally {
          await registry.stop();
        }
      },
    );
  }
});
