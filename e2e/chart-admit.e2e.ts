// The admitting half of the chart's webhook configurations (e2e/chart.e2e.ts shows the denial and the
// namespace exclusions): in a Sigstore world, `helm install` of charts/sigward, then `sigward webhook` on
// the host with exactly the Deployment's arguments (plus, through the chart's own webhook.extraArgs, this
// world's trusted_root.json) and a token of the chart's ServiceAccount; the rendered Validating and
// Mutating configurations are pointed at it. An image keyless-signed by cosign v3 with an apiserver
// service-account token, under a ClusterImagePolicy naming that identity, is ADMITTED through them and
// the Pod is pinned to the digest; an unsigned image under the same policy is denied.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { writeSecretFile } from './world/clients.ts';
import { pushImage, type PushedImage } from './world/images.ts';
import { kubectlOk } from './world/kubectl.ts';
import { createCa, issueServingCert } from './world/pki.ts';
import { freePort } from './world/ports.ts';
import { startService, type Service } from './world/process.ts';
import { repoRoot } from './world/tools.ts';
import { startWorld, type World } from './world/world.ts';

const chart = path.join(repoRoot, 'charts/sigward');
const own = 'sigward-system';
const release = 'sigward';
const checked = 'apps';
const signer = 'release';
const identityOf = (sa: string) => `https://kubernetes.io/namespaces/${checked}/serviceaccounts/${sa}`;

describe('the chart webhook configurations admit a signed image', () => {
  let world: World;
  let webhook: Service | undefined;
  let failed = false;

  const helm = (args: readonly string[]) =>
    world.clients.helm(args, { env: { KUBECONFIG: world.kube.kubeconfig }, timeoutMs: 120_000 });
  const must = (args: readonly string[], input?: string) =>
    kubectlOk(world.kube.kubectl, args, input === undefined ? {} : { input });

  /** The Deployment's container arguments, as `helm template` renders them with these values. */
  async function deploymentArgs(values: Record<string, unknown>): Promise<string[]> {
    const file = path.join(world.runDir.sub('values'), 'values.yaml');
    writeFileSync(file, stringify(values));
    const r = await helm(['template', release, chart, `--namespace=${own}`, `--values=${file}`]);
    const deployment = parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as { kind?: string } | null)
      .find((m) => m?.kind === 'Deployment') as
      { spec: { template: { spec: { containers: { args: string[] }[] } } } } | undefined;
    assert.ok(deployment, 'the chart renders a Deployment');
    return deployment.spec.template.spec.containers[0]!.args;
  }

  async function sign(image: PushedImage): Promise<void> {
    // What a release Job's projected token is: a real TokenRequest, audience sigstore.
    const token = await world.kube.createToken(checked, signer, { audience: 'sigstore' });
    const tokenFile = writeSecretFile(world.runDir.sub('tokens'), image.digest.slice(7, 19), token);
    await world.clients.cosign([
      'sign',
      '--yes',
      `--identity-token=${tokenFile}`,
      `--signing-config=${world.sigstore.signingConfigPath}`,
      `--trusted-root=${world.sigstore.trustedRootPath}`,
      image.byDigest,
    ]);
  }

  const pod = (name: string, image: string) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: checked },
      spec: { containers: [{ name: 'app', image }] },
    });

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
      await helm(['install', release, chart, `--namespace=${own}`]);

      // The host process runs as the chart's ServiceAccount, with the Deployment's own arguments.
      const token = await world.kube.createToken(own, release, {
        audience: world.kube.issuer,
        duration: '1h',
      });
      const kubeconfig = writeSecretFile(
        world.runDir.sub('as-sigward'),
        'kubeconfig',
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'world',
              cluster: {
                server: world.kube.url,
                'certificate-authority-data': Buffer.from(world.kube.caPem).toString('base64'),
              },
            },
          ],
          users: [{ name: 'sigward', user: { token } }],
          contexts: [{ name: 'world', context: { cluster: 'world', user: 'sigward', namespace: own } }],
          'current-context': 'world',
        }),
      );
      const pki = world.runDir.sub('host-pki');
      const ca = await createCa(pki, 'host-webhook-ca');
      const serving = await issueServingCert(ca, pki, 'webhook', ['127.0.0.1']);
      const port = await freePort();
      const args = await deploymentArgs({
        webhook: { extraArgs: [`--trusted-root=${world.sigstore.trustedRootPath}`] },
      });
      assert.ok(args.includes(`--trusted-root=${world.sigstore.trustedRootPath}`), args.join(' '));
      webhook = await startService({
        name: 'sigward-chart-admit',
        command: process.execPath,
        args: [
          path.join(repoRoot, 'src/cli/main.ts'),
          ...args.map((a) =>
            a.startsWith('--listen=')
              ? `--listen=127.0.0.1:${port}`
              : a.startsWith('--tls-cert=')
                ? `--tls-cert=${serving.certFile}`
                : a.startsWith('--tls-key=')
                  ? `--tls-key=${serving.keyFile}`
                  : a,
          ),
          `--kubeconfig=${kubeconfig}`,
        ],
        logDir: world.runDir.logs,
        ready: async () => (await getStatus(`https://127.0.0.1:${port}/readyz`, ca.certPem)) === 200,
      });

      const registry = world.registries.referrers;
      const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
      const signed = await pushImage(tools, registry.host, `${checked}/chart/web`, 'v1');
      const unsigned = await pushImage(tools, registry.host, `${checked}/chart/unsigned`, 'v1');
      await sign(signed);

      await must(
        ['apply', '-f', '-'],
        stringify({
          apiVersion: 'policy.sigward.dev/v1alpha1',
          kind: 'ClusterImagePolicy',
          metadata: { name: 'chart-release-signed' },
          spec: {
            images: [`${registry.host}/${checked}/chart/**`],
            authorities: [
              {
                name: 'release-job',
                keyless: {
                  identities: [{ issuer: world.kube.issuer, subject: identityOf(signer) }],
                  // This tier runs no CT log: Fulcio's certificates carry no SCT.
                  insecureIgnoreSCT: true,
                },
              },
            ],
          },
        }),
      );
      let ready = '';
      for (let i = 0; i < 300 && ready !== 'True'; i++) {
        ready = await must([
          'get',
          'cip',
          'chart-release-signed',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
        if (ready !== 'True') await delay(100);
      }
      assert.equal(ready, 'True', 'the policy was synced and marked Ready');

      const caBundle = Buffer.from(ca.certPem).toString('base64');
      for (const [kind, route] of [
        ['validatingwebhookconfiguration', 'validate'],
        ['mutatingwebhookconfiguration', 'mutate'],
      ] as const)
        await must([
          'patch',
          kind,
          release,
          '--type=json',
          '-p',
          JSON.stringify([
            {
              op: 'replace',
              path: '/webhooks/0/clientConfig',
              value: { url: `https://127.0.0.1:${port}/${route}`, caBundle },
            },
          ]),
        ]);
      // The apiserver sees webhook configuration changes through an informer: wait until the unsigned
      // image is judged (denied by sigward), so the admission below went through the webhooks.
      let denied = '';
      for (let i = 0; i < 200 && !denied; i++) {
        const r = await world.kube.kubectl(['apply', '--dry-run=server', '-f', '-'], {
          input: pod('probe', unsigned.ref),
        });
        if (r.code !== 0 && r.stderr.includes('sigward')) denied = r.stderr;
        else await delay(100);
      }
      assert.match(denied, /denied the request/);
      assert.match(denied, /SIGNATURE_MISSING/);

      const created = await world.kube.kubectl(['apply', '-f', '-'], { input: pod('web', signed.ref) });
      assert.equal(created.code, 0, created.stderr);
      assert.equal(created.stdout.trim(), 'pod/web created');
      const image = await must([
        'get',
        'pod',
        'web',
        '-n',
        checked,
        '-o',
        'jsonpath={.spec.containers[0].image}',
      ]);
      assert.equal(image, `${signed.ref}@${signed.digest}`, 'pinned by the chart mutating webhook');
      assert.doesNotMatch(readFileSync(webhook.logFile, 'utf8'), /forbidden/i);
    } catch (error) {
      failed = true;
      throw error;
    }
  });
});

function getStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}
