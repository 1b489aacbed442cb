// The admitting half of the chart's webhook configurations (e2e/chart.e2e.ts shows the denial and the
// namespace exclusions): in a Sigstore world, `helm install` of charts/sigward, then `sigward webhook` on
// the host with exactly the Deployment's arguments (plus, through the chart's own webhook.extraArgs, this
// world's trusted_root.json) and a token of the chart's ServiceAccount; the rendered Validating and
// Mutating configurations are pointed at it. An image keyless-signed by cosign v3 with an apiserver
// service-account token, under a ClusterImagePolicy naming that identity, is ADMITTED through them and
// the Pod is pinned to the digest; an unsigned image under the same policy is denied.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  kubectlMust,
  podImage,
  podManifest,
  pointWebhooksAt,
  waitForSigwardDenial,
  installChartWithHostWebhook,
} from './world/chart.ts';
import { pushImage } from './world/images.ts';
import type { Service } from './world/process.ts';
import { applyClusterPolicy, cosignSignAs, keylessAuthority } from './world/host-webhook.ts';
import { startWorld, type World } from './world/world.ts';

const own = 'sigward-system';
const release = 'sigward';
const checked = 'apps';
const signer = 'release';
const identityOf = (sa: string) => `https://kubernetes.io/namespaces/${checked}/serviceaccounts/${sa}`;

describe('the chart webhook configurations admit a signed image', () => {
  let world: World;
  let webhook: Service | undefined;
  let failed = false;

  const must = (args: readonly string[], input?: string) => kubectlMust(world.kube.kubectl)(args, input);

  const pod = (name: string, image: string) => podManifest(checked, name, image);

  before(async () => {
    try {
      world = await startWorld();
      await world.kube.ensureNamespace(own);
      await world.kube.ensureNamespace(checked);
      await world.kube.createServiceAccount(checked, signer);
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await webhook?.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'chart-admit' } : {});
    if (kept) console.error(`chart-admit e2e: logs kept in ${kept}`);
  });

  test('signed by the named service account: admitted through the chart webhooks, pinned to the digest', async () => {
    try {
      // The host process runs as the chart's ServiceAccount, with the Deployment's own arguments.
      const { host, args } = await installChartWithHostWebhook(world, {
        release,
        own,
        name: 'sigward-chart-admit',
        point: false,
      });
      assert.ok(args.includes(`--trusted-root=${world.sigstore.trustedRootPath}`), args.join(' '));
      webhook = host.service;

      const registry = world.registries.referrers;
      const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
      const signed = await pushImage(tools, registry.host, `${checked}/chart/web`, 'v1');
      const unsigned = await pushImage(tools, registry.host, `${checked}/chart/unsigned`, 'v1');
      await cosignSignAs(world, checked, signer, signed.byDigest);

      // Applied, compiled by the webhook and Ready (applyClusterPolicy throws otherwise).
      await applyClusterPolicy(world, 'chart-release-signed', [`${registry.host}/${checked}/chart/**`], {
        authorities: [keylessAuthority(world, 'release-job', { subject: identityOf(signer) })],
      });

      await pointWebhooksAt(world.kube.kubectl, release, host);
      // The apiserver sees webhook configuration changes through an informer: wait until the unsigned
      // image is judged (denied by sigward), so the admission below went through the webhooks.
      const denied = await waitForSigwardDenial(world.kube.kubectl, pod('probe', unsigned.ref));
      assert.match(denied, /denied the request/);
      assert.match(denied, /SIGNATURE_MISSING/);

      const created = await world.kube.kubectl(['apply', '-f', '-'], { input: pod('web', signed.ref) });
      assert.equal(created.code, 0, created.stderr);
      assert.equal(created.stdout.trim(), 'pod/web created');
      const image = await podImage(must, checked, 'web');
      assert.equal(image, `${signed.ref}@${signed.digest}`, 'pinned by the chart mutating webhook');
      assert.doesNotMatch(readFileSync(webhook.logFile, 'utf8'), /forbidden/i);
    } catch (error) {
      failed = true;
      throw error;
    }
  });
});
