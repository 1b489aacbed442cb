// The Helm chart (charts/sigward) run against a real apiserver without a kubelet, as e2e/chart.e2e.ts and
// e2e/chart-admit.e2e.ts both do it: `helm` bound to the admin's kubeconfig, `helm template` parsed into
// manifests (and the Deployment's container arguments), `sigward webhook` started on the host with those
// arguments and a kubeconfig holding a token of the chart's ServiceAccount, the rendered Validating and
// Mutating webhook configurations patched to point at that host process, and the waits on the apiserver
// (a policy marked Ready, a Pod denied by sigward once the apiserver's informer has seen the patch).
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseAllDocuments, stringify } from 'yaml';
import { writeSecretFile, type Clients, type ToolResult } from './clients.ts';
import { WorldError } from './errors.ts';
import type { Kube } from './kube.ts';
import { kubectlOk, type Kubectl } from './kubectl.ts';
import { createCa, issueServingCert } from './pki.ts';
import { freePort } from './ports.ts';
import { startService, type Service } from './process.ts';
import type { RunDir } from './run-dir.ts';
import type { World } from './world.ts';
import { goTool, repoRoot } from './tools.ts';

/** The chart under test. */
export const chartDir = path.join(repoRoot, 'charts/sigward');

let offlineHome: string | undefined;
/**
 * The real helm run with no cluster (`template`, `install --dry-run=client`), its HOME and XDG
 * directories in a temporary directory of its own: nothing of the machine's helm configuration counts.
 */
export function helmOffline(args: readonly string[]): SpawnSyncReturns<string> {
  offlineHome ??= mkdtempSync(path.join(tmpdir(), 'sigward-helm-'));
  return spawnSync(goTool('helm'), args, {
    encoding: 'utf8',
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: offlineHome,
      XDG_CACHE_HOME: offlineHome,
      XDG_CONFIG_HOME: offlineHome,
      XDG_DATA_HOME: offlineHome,
    },
    timeout: 60_000,
  });
}

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

/** The image of a Pod's first container as the apiserver stored it (pinned to a digest by /mutate). */
export function podImage(
  must: (args: readonly string[]) => Promise<string>,
  namespace: string,
  pod: string,
): Promise<string> {
  return must(['get', 'pod', pod, '-n', namespace, '-o', 'jsonpath={.spec.containers[0].image}']);
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
  /** The health listener's port (/livez, /readyz, /metrics without a client certificate), if asked for. */
  readonly healthPort?: number;
  /** PEM of the CA that issued the serving certificate: the caBundle to point a configuration at it. */
  readonly caPem: string;
}

/**
 * Starts `sigward webhook` on the host with exactly the Deployment's arguments (so every flag the chart
 * passes exists), but with a free loopback port (or `port`), a serving certificate for 127.0.0.1, the
 * given kubeconfig, and for --client-ca the bundle file `clientCaFile` (the Pod's is a mounted
 * ConfigMap); ready once /readyz answers 200 (on the health listener, when there is one: with
 * --client-ca the webhook port asks for a client certificate). Its environment is this process's without any AWS_*
 * setting (no ambient cloud identity) plus `env`: what the Pod's container would be given.
 */
export async function startHostWebhook(
  runDir: RunDir,
  options: {
    name: string;
    deploymentArgs: readonly string[];
    kubeconfig: string;
    env?: Readonly<Record<string, string>>;
    port?: number;
    clientCaFile?: string;
  },
): Promise<HostWebhook> {
  // A directory per process: the webhook reloads its certificate files when they change, so a second
  // host webhook writing the same files would swap the first one's certificate under it.
  const pki = runDir.sub(`host-pki/${options.name}`);
  const ca = await createCa(pki, 'host-webhook-ca');
  const serving = await issueServingCert(ca, pki, 'webhook', ['127.0.0.1']);
  const port = options.port ?? (await freePort());
  const healthPort = options.deploymentArgs.some((a) => a.startsWith('--health-listen='))
    ? await freePort()
    : undefined;
  const clientCaFile = (): string => {
    if (options.clientCaFile === undefined)
      throw new WorldError('WEBHOOK', `${options.name}: the arguments name --client-ca, give clientCaFile`);
    return options.clientCaFile;
  };
  const hostArg = (a: string): string => {
    if (a.startsWith('--listen=')) return `--listen=127.0.0.1:${port}`;
    if (a.startsWith('--health-listen=')) return `--health-listen=127.0.0.1:${healthPort}`;
    if (a.startsWith('--tls-cert=')) return `--tls-cert=${serving.certFile}`;
    if (a.startsWith('--tls-key=')) return `--tls-key=${serving.keyFile}`;
    if (a.startsWith('--client-ca=')) return `--client-ca=${clientCaFile()}`;
    return a;
  };
  const service = await startService({
    name: options.name,
    command: process.execPath,
    args: [
      path.join(repoRoot, 'src/cli/main.ts'),
      ...options.deploymentArgs.map(hostArg),
      `--kubeconfig=${options.kubeconfig}`,
    ],
    withheldEnv: /^AWS_/,
    ...(options.env === undefined ? {} : { env: options.env }),
    logDir: runDir.logs,
    ready: async () =>
      (await getStatus(`https://127.0.0.1:${healthPort ?? port}/readyz`, ca.certPem)) === 200,
  });
  return { service, port, ...(healthPort === undefined ? {} : { healthPort }), caPem: ca.certPem };
}

export interface ChartWebhookOptions {
  release: string;
  own: string;
  name: string;
  /** Chart values for the install and the render (the world's --trusted-root is added to extraArgs). */
  values?: Record<string, unknown>;
  /** The container environment of the rendered Deployment's Pod (e.g. what a cloud identity injects). */
  environment?: (deployment: Manifest) => Promise<Record<string, string>>;
  /** The webhook's port (e.g. one the apiserver's webhook kubeconfig already names); free by default. */
  port?: number;
  /** The client CA bundle file for --client-ca (with clientAuth values). */
  clientCaFile?: string;
}

/** What started: the host process, the arguments it was given, and its kubeconfig (a secret file). */
export interface ChartWebhook {
  host: HostWebhook;
  args: string[];
  kubeconfig: string;
}

/**
 * `sigward webhook` on the host as the installed release's Deployment would run it: exactly the
 * Deployment's arguments (plus this world's trusted_root.json through the chart's webhook.extraArgs), a
 * token of the chart's ServiceAccount, and the environment `options.environment` gives.
 */
export async function startChartWebhook(world: World, options: ChartWebhookOptions): Promise<ChartWebhook> {
  const { release, own, values = {} } = options;
  const kubeconfig = await serviceAccountKubeconfig(
    world.kube,
    world.runDir.sub(`as-${options.name}`),
    own,
    release,
  );
  const webhookValues = (values['webhook'] ?? {}) as Record<string, unknown>;
  const extraArgs = (webhookValues['extraArgs'] ?? []) as string[];
  const manifests = await renderChart(world, release, own, {
    ...values,
    webhook: {
      ...webhookValues,
      extraArgs: [...extraArgs, `--trusted-root=${world.sigstore.trustedRootPath}`],
    },
  });
  const args = deploymentArgsOf(manifests);
  const env = await options.environment?.(oneManifest(manifests, 'Deployment'));
  const host = await startHostWebhook(world.runDir, {
    name: options.name,
    deploymentArgs: args,
    kubeconfig,
    ...(env === undefined ? {} : { env }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.clientCaFile === undefined ? {} : { clientCaFile: options.clientCaFile }),
  });
  return { host, args, kubeconfig };
}

/**
 * `helm install` of the chart into `own` (with `values`), then the release's webhook on the host
 * (startChartWebhook); the rendered webhook configurations point at it unless `point` is false.
 */
export async function installChartWithHostWebhook(
  world: World,
  options: ChartWebhookOptions & { point?: boolean },
): Promise<ChartWebhook> {
  const { release, own } = options;
  await world.kube.ensureNamespace(own);
  const valuesFile = path.join(world.runDir.sub('values'), 'install-values.yaml');
  writeFileSync(valuesFile, stringify(options.values ?? {}));
  await helmAgainst(
    world.kube,
    world.clients,
  )(['install', release, chartDir, `--namespace=${own}`, `--values=${valuesFile}`]);
  const started = await startChartWebhook(world, options);
  if (options.point !== false) await pointWebhooksAt(world.kube.kubectl, release, started.host);
  return started;
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

/** GET `route` of a host webhook (e.g. /metrics, from the health listener when it has one): status and body. */
export function getFromWebhook(host: HostWebhook, route: string): Promise<{ status: number; body: string }> {
  return httpsGet(`https://127.0.0.1:${host.healthPort ?? host.port}${route}`, host.caPem);
}

async function getStatus(url: string, ca: string): Promise<number> {
  return (await httpsGet(url, ca)).status;
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}
