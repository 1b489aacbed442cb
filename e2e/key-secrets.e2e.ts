// Policy material held in Secrets, through the REAL apiserver and the chart's own RBAC: `helm install`
// of charts/sigward, `sigward webhook` on the host with the Deployment's arguments and a token of the
// chart's ServiceAccount, the chart's webhook configurations pointed at it. A cosign key-pair-signed
// image is admitted with the public key in a Secret named by a ClusterImagePolicy; after the Secret is
// rotated to another key the old signature is denied within seconds, after it is deleted the denial
// names the missing Secret, and once restored the image is admitted again (every wait polls with a
// deadline). A signature repository behind basic auth is read with the policy's pullSecretRef (sigward's
// namespace for a ClusterImagePolicy, the policy's own for an ImagePolicy) while the image itself, in
// another private registry, is read with the Pod's imagePullSecrets.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe } from 'node:test';
import {
  kubectlMust,
  podImage,
  podManifest,
  waitForPolicyReady,
  waitForSigwardDenial,
  installChartWithHostWebhook,
} from './world/chart.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';
import { pushImage, type PushedImage } from './world/images.ts';
import type { Service } from './world/process.ts';
import { startOlareg, type Registry } from './world/registry.ts';
import { startWorld, type World } from './world/world.ts';

const own = 'sigward-system';
const release = 'sigward';
const ns = 'apps';
const keyPassword = 'key-secrets-e2e';
/** How long a change to a Secret may take to show in a decision: sigward re-reads key Secrets every 5 s. */
const KEY_DEADLINE_MS = 20_000;

describe('keys and signature-repository credentials held in Secrets', () => {
  let world: World;
  let webhook: Service | undefined;
  let failed = false;
  const privateRegistries: Registry[] = [];
  const keys: Record<'release' | 'other', { dir: string; publicPem: string }> = {
    release: { dir: '', publicPem: '' },
    other: { dir: '', publicPem: '' },
  };
  let keyed: PushedImage;

  const must = (args: readonly string[], input?: string) => kubectlMust(world.kube.kubectl)(args, input);
  const apply = (manifest: object) => must(['apply', '-f', '-'], JSON.stringify(manifest));
  const create = (manifest: object) =>
    world.kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
  const dryRun = (pod: string) =>
    world.kube.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: pod });

  const secret = (namespace: string, name: string, data: Record<string, string>, type = 'Opaque') => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  const dockerConfig = (host: string, user: string, password: string) => ({
    '.dockerconfigjson': JSON.stringify({
      auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } },
    }),
  });
  const withPullSecret = (pod: string, name: string): object => {
    const manifest = JSON.parse(pod) as { spec: Record<string, unknown> };
    manifest.spec['imagePullSecrets'] = [{ name }];
    return manifest;
  };

  /** Dry-runs `pod` until `done` holds for kubectl's answer; the last answer, or a failure at the deadline. */
  async function until(
    pod: string,
    done: (r: { code: number | null; stderr: string }) => boolean,
    what: string,
    deadlineMs = KEY_DEADLINE_MS,
  ): Promise<{ code: number | null; stderr: string; elapsedMs: number }> {
    const started = performance.now();
    for (;;) {
      const r = await dryRun(pod);
      const elapsedMs = performance.now() - started;
      if (done(r)) return { ...r, elapsedMs };
      if (elapsedMs > deadlineMs)
        throw new Error(`${what}: not within ${deadlineMs} ms; last answer: ${r.code} ${r.stderr}`);
      await delay(100);
    }
  }

  async function generateKey(name: 'release' | 'other'): Promise<void> {
    const dir = world.runDir.sub(`cosign-key-${name}`);
    await world.clients.cosign(['generate-key-pair'], { cwd: dir, env: { COSIGN_PASSWORD: keyPassword } });
    keys[name] = { dir, publicPem: readFileSync(path.join(dir, 'cosign.pub'), 'utf8') };
  }

  /** cosign v3 with a key: the bundle (Rekor v2 entry) as a referrer, or `extra` flags. */
  async function signWithKey(image: PushedImage, extra: readonly string[] = [], env = {}): Promise<void> {
    await world.clients.cosign(
      [
        'sign',
        '--yes',
        `--key=${path.join(keys.release.dir, 'cosign.key')}`,
        `--trusted-root=${world.sigstore.trustedRootPath}`,
        ...(extra.length === 0 ? [`--signing-config=${world.sigstore.signingConfigPath}`] : extra),
        image.byDigest,
      ],
      { env: { COSIGN_PASSWORD: keyPassword, ...env } },
    );
  }

  before(async () => {
    try {
      world = await startWorld();
      await world.kube.ensureNamespace(own);
      await world.kube.ensureNamespace(ns);
      const { host: host } = await installChartWithHostWebhook(world, {
        release,
        own,
        name: 'sigward-key-secrets',
      });
      webhook = host.service;
      await generateKey('release');
      await generateKey('other');
      const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
      keyed = await pushImage(tools, world.registries.referrers.host, `${ns}/keyed/web`, 'v1');
      await signWithKey(keyed);
      // The apiserver sees the webhook configurations through an informer: wait until sigward judges.
      assert.match(
        await waitForSigwardDenial(world.kube.kubectl, podManifest(ns, 'probe', keyed.ref)),
        /denied/,
      );
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await webhook?.stop();
    for (const registry of privateRegistries) await registry.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'key-secrets' } : {});
    if (kept) console.error(`key-secrets e2e: logs kept in ${kept}`);
  });

  const step = stepsNotingFailure(() => (failed = true));
  const keyedPod = () => podManifest(ns, 'keyed-probe', keyed.ref);
  const denial = (image: PushedImage) =>
    `admission webhook "validate.sigward.dev" denied the request: image ${image.ref} (digest ${image.digest}) in spec.containers[0].image: `;

  step('signed with a key pair, the public key in a Secret named by the policy: admitted', async () => {
    await apply(secret(own, 'release-key', { 'cosign.pub': keys.release.publicPem }));
    await apply({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'keyed' },
      spec: {
        images: [`${world.registries.referrers.host}/${ns}/keyed/**`],
        authorities: [{ name: 'release-key', key: { secretRef: { name: 'release-key' } } }],
      },
    });
    assert.equal(await waitForPolicyReady(world.kube.kubectl, 'keyed'), 'True');
    await until(keyedPod(), (r) => r.code === 0, 'admitted under the new policy');
    const created = await create(JSON.parse(podManifest(ns, 'keyed', keyed.ref)) as object);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout.trim(), 'pod/keyed created');
  });

  step('the Secret rotated to another key: the old signature is denied within seconds', async () => {
    await apply(secret(own, 'release-key', { 'cosign.pub': keys.other.publicPem }));
    // Denied as the user wrote the image: in the instant the rotation reaches sigward, the mutating
    // webhook may still have admitted the Pod and pinned its digest (`:v1@sha256:…`) before the
    // validating one refused it with the new key; that first denial names the pinned image.
    const r = await until(
      keyedPod(),
      (x) => x.code !== 0 && x.stderr.includes(denial(keyed)),
      'denied after the rotation',
    );
    assert.equal(
      r.stderr.trim(),
      `Error from server (Forbidden): error when creating "STDIN": ${denial(keyed)}policy keyed, authority release-key: ` +
        'none of 1 signature(s) is valid: signature does not verify: signature verification failed; ' +
        "expected a signature by the public key in Secret release-key (cosign.pub) in sigward's namespace [SIGNATURE_INVALID]",
    );
    assert.ok(r.elapsedMs < KEY_DEADLINE_MS);
  });

  step('the Secret deleted: denied, naming the missing Secret', async () => {
    await must(['delete', 'secret', 'release-key', '-n', own]);
    const r = await until(
      keyedPod(),
      (x) => x.stderr.includes('does not exist'),
      'the deletion shown in the denial',
    );
    assert.notEqual(r.code, 0);
    assert.ok(
      r.stderr
        .trim()
        .endsWith(
          `${denial(keyed)}policy keyed, authority release-key: the key Secret ${own}/release-key does not exist [POLICY_INVALID]`,
        ),
      r.stderr,
    );
  });

  step('the Secret restored: admitted again', async () => {
    await apply(secret(own, 'release-key', { 'cosign.pub': keys.release.publicPem }));
    await until(keyedPod(), (r) => r.code === 0, 'admitted after the restore');
    const created = await create(JSON.parse(podManifest(ns, 'keyed-again', keyed.ref)) as object);
    assert.equal(created.code, 0, created.stderr);
  });

  step(
    "a signature repository behind auth: read with the policy's pullSecretRef, the image with the Pod's pull secret",
    async () => {
      const start = (name: string, user: string, password: string) =>
        startOlareg(world.runDir, {
          referrers: true,
          name,
          auth: { kind: 'htpasswd', users: { [user]: password } },
        });
      const images = await start('olareg-images', 'puller', 'puller-password');
      privateRegistries.push(images);
      const signatures = await start('olareg-signatures', 'sig-reader', 'sig-reader-password');
      privateRegistries.push(signatures);
      await world.clients.crane(['auth', 'login', images.host, '-u', 'puller', '-p', 'puller-password']);
      await world.clients.crane([
        'auth',
        'login',
        signatures.host,
        '-u',
        'sig-reader',
        '-p',
        'sig-reader-password',
      ]);
      const tools = { crane: world.clients.crane, workDir: world.runDir.sub('private-images') };
      const image = await pushImage(tools, images.host, `${ns}/stored/web`, 'v1');
      const repository = `${signatures.host}/${ns}/signatures`;
      // cosign's COSIGN_REPOSITORY: the legacy .sig tag in the other registry (no log: the authority says so).
      await signWithKey(
        image,
        ['--new-bundle-format=false', '--use-signing-config=false', '--tlog-upload=false'],
        {
          COSIGN_REPOSITORY: repository,
        },
      );
      await apply(
        secret(
          ns,
          'image-pull',
          dockerConfig(images.host, 'puller', 'puller-password'),
          'kubernetes.io/dockerconfigjson',
        ),
      );
      await apply(
        secret(
          own,
          'sig-pull',
          dockerConfig(signatures.host, 'sig-reader', 'sig-reader-password'),
          'kubernetes.io/dockerconfigjson',
        ),
      );
      const authority = {
        name: 'release-key',
        key: { data: keys.release.publicPem },
        insecureIgnoreTlog: true,
      };
      const clusterPolicy = (pullSecret?: string) => ({
        apiVersion: 'policy.sigward.dev/v1alpha1',
        kind: 'ClusterImagePolicy',
        metadata: { name: 'stored' },
        spec: {
          images: [`${images.host}/${ns}/stored/**`],
          authorities: [authority],
          signatureRepository: {
            repository,
            ...(pullSecret === undefined ? {} : { pullSecretRef: { name: pullSecret } }),
          },
        },
      });
      const pod = JSON.stringify(withPullSecret(podManifest(ns, 'stored', image.ref), 'image-pull'));

      // Without the policy's pull secret, the Pod's credentials do not open the signature registry.
      await apply(clusterPolicy());
      assert.equal(await waitForPolicyReady(world.kube.kubectl, 'stored'), 'True');
      const anonymous = await until(
        pod,
        (r) => r.stderr.includes('REGISTRY_AUTH'),
        'denied without pullSecretRef',
      );
      assert.ok(
        anonymous.stderr.includes(`${denial(image)}policy stored, authority release-key: `),
        anonymous.stderr,
      );

      // A ClusterImagePolicy's pull secret comes from sigward's own namespace.
      await apply(clusterPolicy('sig-pull'));
      await until(pod, (r) => r.code === 0, "admitted with the ClusterImagePolicy's pullSecretRef");
      const created = await create(JSON.parse(pod) as object);
      assert.equal(created.code, 0, created.stderr);
      const pinned = await podImage(must, ns, 'stored');
      assert.equal(pinned, `${image.ref}@${image.digest}`);

      // An ImagePolicy's comes from its own namespace: `sig-pull` exists only in sigward's.
      const imagePolicy = (pullSecret: string) => ({
        apiVersion: 'policy.sigward.dev/v1alpha1',
        kind: 'ImagePolicy',
        metadata: { name: 'team-stored', namespace: ns },
        spec: {
          images: [`${images.host}/${ns}/stored/**`],
          authorities: [authority],
          signatureRepository: { repository, pullSecretRef: { name: pullSecret } },
        },
      });
      await apply(imagePolicy('sig-pull'));
      const missing = await until(
        pod,
        (r) => r.stderr.includes('pullSecretRef'),
        "the ImagePolicy's missing pull secret shown",
      );
      assert.ok(
        missing.stderr
          .trim()
          .endsWith(
            `policy ${ns}/team-stored, authority release-key: the pull secret ${ns}/sig-pull does not exist (signatureRepository.pullSecretRef) [POLICY_INVALID]`,
          ),
        missing.stderr,
      );
      await apply(
        secret(
          ns,
          'team-pull',
          dockerConfig(signatures.host, 'sig-reader', 'sig-reader-password'),
          'kubernetes.io/dockerconfigjson',
        ),
      );
      await apply(imagePolicy('team-pull'));
      await until(pod, (r) => r.code === 0, "admitted with the ImagePolicy's pullSecretRef");
      // Everything the webhook did was allowed by the chart's RBAC.
      assert.doesNotMatch(readFileSync(webhook!.logFile, 'utf8'), /forbidden/i);
    },
  );
});
