// The Helm chart (charts/sigward) run against a real apiserver without a kubelet, as e2e/chart.e2e.ts and
// e2e/chart-admit.e2e.ts both do it: `helm` bound to the admin's kubeconfig, `helm template` parsed into
// manifests (and the Deployment's container arguments), `sigward webhook` started on the host with those
// arguments and a kubeconfig holding a token of the chart's ServiceAccount, the rendered Validating and
// Mutating webhook configurations patched to point at that host process, and the waits on the apiserver
// (a policy marked Ready, a Pod denied by sigward once the apiserver's informer has seen the patch).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseAllDocuments, stringify } from 'yaml';
import { writeSecretFile, type Clients, type ToolResult } from './clients.ts';
import type { Kube } from './kube.ts';
import { kubectlOk, type Kubectl } from './kubectl.ts';
import { createCa, issueServingCert } from './pki.ts';
import { freePort } from './ports.ts';
import { startService, type Service } from './process.ts';
import type { RunDir } from './run-dir.ts';
import type { World } from './world.ts';
import { repoRoot } from './tools.ts';

/** The chart under test. */
export const chartDir = path.join(repoRoot, 'charts/sigward');

/** One rendered document of the chart. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** What the helpers below run against: the apiserver, the clients (helm) and the run directory. */
export interface ChartContext {
  readonly kube: Kube;
  readonly clients: Clients;
  readonly runDir: RunDir;
}

/** `helm` with the admin's kubeconfig and a generous timeout (an install waits on the apiserver). */
export function helmAgainst(kube: Kube, clients: Clients): (args: readonly string[]) => Promise<ToolResult> {
  return (args) => clients.helm(args, { env: { KUBECONFIG: kube.kubeconfig }, timeoutMs: 120_000 });
}

/** kubectl that must succeed (else it throws): its stdout; `input` is written to its stdin. */
export function kubectlMust(kubectl: Kubectl): (args: readonly string[], input?: string) => Promise<string> {
  return (args, input) => kubectlOk(kubectl, args, input === undefined ? {} : { input });
}

/** `helm template <release>` in `namespace` with these values; the manifests, parsed. */
export async function renderChart(
  context: ChartContext,
  release: string,
  namespace: string,
  values: Record<string, unknown> = {},
): Promise<Manifest[]> {
  const file = path.join(context.runDir.sub('values'), 'values.yaml');
  writeFileSync(file, stringify(values));
  const r = await helmAgainst(
    context.kube,
    context.clients,
  )(['template', release, chartDir, `--namespace=${namespace}`, `--values=${file}`]);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/** The one manifest of this kind (and name, if given); asserts there is exactly one. */
export function oneManifest(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind} ${name ?? ''} expected, found ${found.length}`);
  return found[0]!;
}

/** The container arguments of the rendered Deployment. */
export function deploymentArgsOf(manifests: Manifest[]): string[] {
  const deployment = oneManifest(manifests, 'Deployment') as unknown as {
    spec: { template: { spec: { containers: { args: string[] }[] } } };
  };
  return deployment.spec.template.spec.containers[0]!.args;
}

/**
 * A kubeconfig (written as a secret file under `dir`) that talks to the apiserver as this ServiceAccount:
 * a one-hour token for the apiserver's own audience (its issuer: no --api-audiences), as a projected Pod
 * token has.
 */
export async function serviceAccountKubeconfig(
  kube: Kube,
  dir: string,
  namespace: string,
  serviceAccount: string,
): Promise<string> {
  const token = await kube.createToken(namespace, serviceAccount, { audience: kube.issuer, duration: '1h' });
  return writeSecretFile(
    dir,
    'kubeconfig',
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'world',
          cluster: {
            server: kube.url,
            'certificate-authority-data': Buffer.from(kube.caPem).toString('base64'),
          },
        },
      ],
      users: [{ name: 'sigward', user: { token } }],
      contexts: [{ name: 'world', context: { cluster: 'world', user: 'sigward', namespace } }],
      'current-context': 'world',
    }),
  );
}

/** `sigward webhook` running on the host, served over TLS by a CA of its own. */
export interface HostWebhook {
  readonly service: Service;
  readonly port: number;
  /** PEM of the CA that issued the serving certificate: the caBundle to point a configuration at it. */
  readonly caPem: string;
}

/**
 * Starts `sigward webhook` on the host with exactly the Deployment's arguments (so every flag the chart
 * passes exists), but with a free loopback port, a serving certificate for 127.0.0.1 and the given
 * kubeconfig; ready once /readyz answers 200.
 */
export async function startHostWebhook(
  runDir: RunDir,
  options: { name: string; deploymentArgs: readonly string[]; kubeconfig: string },
): Promise<HostWebhook> {
  const pki = runDir.sub('host-pki');
  const ca = await createCa(pki, 'host-webhook-ca');
  const serving = await issueServingCert(ca, pki, 'webhook', ['127.0.0.1']);
  const port = await freePort();
  const service = await startService({
    name: options.name,
    command: process.execPath,
    args: [
      path.join(repoRoot, 'src/cli/main.ts'),
      ...options.deploymentArgs.map((a) =>
        a.startsWith('--listen=')
          ? `--listen=127.0.0.1:${port}`
          : a.startsWith('--tls-cert=')
            ? `--tls-cert=${serving.certFile}`
            : a.startsWith('--tls-key=')
              ? `--tls-key=${serving.keyFile}`
              : a,
      ),
      `--kubeconfig=${options.kubeconfig}`,
    ],
    logDir: runDir.logs,
    ready: async () => (await getStatus(`https://127.0.0.1:${port}/readyz`, ca.certPem)) === 200,
  });
  return { service, port, caPem: ca.certPem };
}

/**
 * `helm install` of the chart into `own`, then `sigward webhook` on the host with exactly the
 * Deployment's arguments (plus this world's trusted_root.json through the chart's webhook.extraArgs)
 * and a token of the chart's ServiceAccount; the rendered webhook configurations point at it unless
 * `point` is false. `values` are the chart values for both the install and the host's arguments. Returns the host process and the arguments it was started with.
 */
export async function installChartWithHostWebhook(
  world: World,
  options: { release: string; own: string; name: string; point?: boolean; values?: Record<string, unknown> },
): Promise<{ host: HostWebhook; args: string[] }> {
  const { release, own } = options;
  await world.kube.ensureNamespace(own);
  const valuesFile = path.join(world.runDir.sub('install-values'), `${release}.yaml`);
  writeFileSync(valuesFile, stringify(options.values ?? {}));
  await helmAgainst(
    world.kube,
    world.clients,
  )(['install', release, chartDir, `--namespace=${own}`, `--values=${valuesFile}`]);
  const kubeconfig = await serviceAccountKubeconfig(world.kube, world.runDir.sub('as-sigward'), own, release);
  const args = deploymentArgsOf(
    await renderChart(world, release, own, {
      ...options.values,
      webhook: { extraArgs: [`--trusted-root=${world.sigstore.trustedRootPath}`] },
    }),
  );
  const host = await startHostWebhook(world.runDir, { name: options.name, deploymentArgs: args, kubeconfig });
  if (options.point !== false) await pointWebhooksAt(world.kube.kubectl, release, host);
  return { host, args };
}

/** Points the release's rendered Validating and Mutating webhook configurations at the host process. */
export async function pointWebhooksAt(kubectl: Kubectl, release: string, host: HostWebhook): Promise<void> {
  const caBundle = Buffer.from(host.caPem).toString('base64');
  for (const [kind, route] of [
    ['validatingwebhookconfiguration', 'validate'],
    ['mutatingwebhookconfiguration', 'mutate'],
  ] as const)
    await kubectlOk(kubectl, [
      'patch',
      kind,
      release,
      '--type=json',
      '-p',
      JSON.stringify([
        {
          op: 'replace',
          path: '/webhooks/0/clientConfig',
          value: { url: `https://127.0.0.1:${host.port}/${route}`, caBundle },
        },
      ]),
    ]);
}

/** A one-container Pod, as JSON for `kubectl apply -f -`. */
export function podManifest(namespace: string, name: string, image: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'app', image }] },
  });
}

/**
 * The apiserver sees webhook configuration changes through an informer: applies `pod` with
 * `--dry-run=server` until sigward refuses it (20 s at most). sigward's denial, or '' if none came.
 */
export async function waitForSigwardDenial(kubectl: Kubectl, pod: string): Promise<string> {
  let denied = '';
  for (let i = 0; i < 200 && !denied; i++) {
    const r = await kubectl(['apply', '--dry-run=server', '-f', '-'], { input: pod });
    if (r.code !== 0 && r.stderr.includes('sigward')) denied = r.stderr;
    else await delay(100);
  }
  return denied;
}

/** Polls a ClusterImagePolicy's Ready condition until it is True (30 s at most); its last status. */
export async function waitForPolicyReady(kubectl: Kubectl, name: string): Promise<string> {
  let ready = '';
  for (let i = 0; i < 300 && ready !== 'True'; i++) {
    ready = await kubectlOk(kubectl, [
      'get',
      'cip',
      name,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    if (ready !== 'True') await delay(100);
  }
  return ready;
}

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
