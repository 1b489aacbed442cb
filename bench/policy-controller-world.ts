// The two webhooks `npm run bench:policy-controller` compares, each started as it runs for real:
//  - sigstore/policy-controller's webhook (cmd/webhook, the version pinned in
//    e2e/tools/policy-controller/go.mod) against a real kube-apiserver + etcd on loopback: its own
//    CRDs and ConfigMaps straight from the module's config/ in the Go module cache (applied as-is), a
//    TrustRoot with the public-good keys, one ClusterImagePolicy, the env knative's sharedmain reads
//    (config/webhook.yaml's), --disable-tuf (no TUF CDN here). It makes its own serving certificate
//    (secret webhook-certs) whose CA the load client trusts;
//  - `sigward webhook` with the same identity as a policy file (--policies), the same trusted_root.json
//    (--trusted-root) and a serving certificate made here.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { makeTestTls } from '../test/support/tls.ts';
import { PROD_ROOT_PATH } from '../test/sigstore/ext.ts';
import { startKube, type Kube } from '../e2e/world/kube.ts';
import { kubectlOk } from '../e2e/world/kubectl.ts';
import { freePort, loopback } from '../e2e/world/ports.ts';
import { startService, tailOf, type Service } from '../e2e/world/process.ts';
import type { RunDir } from '../e2e/world/run-dir.ts';
import { repoRoot, toolsDir } from '../e2e/world/tools.ts';
import { webhookAgent } from './policy-controller-tls.ts';
import { sigstoreKeysOf, type TrustedRootJson } from './policy-controller-trust.ts';
import { leafMemoOffFlag } from './leaf-memo-off.ts';

/** One signed image case: the identity both webhooks require and the signature format it is in. */
export interface SignedCase {
  readonly subject: string;
  readonly issuer: string;
  /** policy-controller's authority `signatureFormat`: a cosign v3 bundle, or the legacy `.sig`. */
  readonly format: 'bundle' | 'legacy';
  /** Glob of the image references the policy covers (both webhooks' glob syntax agree on it). */
  readonly glob: string;
}

export interface Webhook {
  readonly name: string;
  readonly url: string;
  readonly caFile: string;
  /** TLS server name to check the certificate against ('-': the URL's IP). */
  readonly servername: string;
  readonly pid: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

const SYSTEM_NAMESPACE = 'cosign-system';
const TRUST_ROOT = 'public-good';
const POLICY_CONTROLLER_BIN = path.join(toolsDir, 'policy-controller-webhook');
const toolsModule = path.join(repoRoot, 'e2e', 'tools', 'policy-controller');

/**
 * Where policy-controller serves. v0.15.1's --secure-port is a no-op (cmd/webhook/main.go hands a copy
 * of its options to the context before flag.Parse fills the port), so it always binds :8443 on every
 * interface: the bench therefore runs in a network namespace of its own (policy-controller.ts).
 */
export const POLICY_CONTROLLER_PORT = 8443;

/** policy-controller's module directory in the Go module cache (downloaded by `go` if absent). */
export function policyControllerModule(): { dir: string; version: string } {
  const out = execFileSync(
    'go',
    ['list', '-mod=readonly', '-m', '-f', '{{.Dir}} {{.Version}}', 'github.com/sigstore/policy-controller'],
    { cwd: toolsModule, env: { ...process.env, GOWORK: 'off', GOFLAGS: '' }, encoding: 'utf8' },
  ).trim();
  const [dir, version] = out.split(' ');
  if (!dir || !version) throw new Error(`go list gave no module directory: ${out}`);
  return { dir, version };
}

/** POSTs one review; true when answered 200 with allowed: true, else the answer (for the error). */
export function postReview(webhook: Pick<Webhook, 'url' | 'caFile' | 'servername'>, body: string) {
  const agent = webhookAgent(readFileSync(webhook.caFile, 'utf8'), webhook.servername, 1);
  return new Promise<{ allowed: boolean; text: string }>((resolve, reject) => {
    const req = https.request(
      webhook.url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json' },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ allowed: res.statusCode === 200 && /"allowed":\s*true/.test(text), text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${webhook.url} timed out`)));
    req.on('error', reject);
    req.end(body);
  }).finally(() => agent.destroy());
}

/** Polls until the webhook admits `body` (a policy compiled, certificates made): never a fixed sleep. */
async function untilAdmitted(webhook: Webhook, body: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '(no answer)';
  let pause = 100;
  while (Date.now() < deadline) {
    let r: { allowed: boolean; text: string } | undefined;
    try {
      r = await postReview(webhook, body);
      if (r.allowed) return;
      last = r.text.slice(0, 600);
    } catch (error) {
      last = String(error);
    }
    // A verdict of the bench's own policy is final (waiting cannot change it); anything else (no policy
    // compiled yet, certificates not served yet) is waited for.
    if (r !== undefined && r.text.includes('bench-signed'))
      throw new Error(`${webhook.name} refused the bench's signed image: ${last}`);
    await delay(pause);
    pause = Math.min(pause * 2, 1000);
  }
  throw new Error(
    `${webhook.name} did not admit the bench's review within ${timeoutMs} ms; last answer: ${last}\nlog ${webhook.logFile}:\n${tailOf(webhook.logFile, 25)}`,
  );
}

const apply = (kube: Kube, manifest: string) =>
  kubectlOk(kube.kubectl, ['apply', '-f', '-'], { input: manifest });

/** The ClusterImagePolicy (v1alpha1: its storage version, so no conversion webhook is needed). */
function clusterImagePolicy(c: SignedCase): object {
  return {
    apiVersion: 'policy.sigstore.dev/v1alpha1',
    kind: 'ClusterImagePolicy',
    metadata: { name: 'bench-signed' },
    spec: {
      images: [{ glob: c.glob }],
      authorities: [
        {
          name: 'release-workflow',
          keyless: { trustRootRef: TRUST_ROOT, identities: [{ issuer: c.issuer, subject: c.subject }] },
          // Rekor's key from the same TrustRoot; no URL, so the SET/inclusion proof is checked offline.
          ctlog: { trustRootRef: TRUST_ROOT },
          signatureFormat: c.format,
        },
      ],
    },
  };
}

/** The CA of policy-controller's serving certificate, from its Secret ('' until it has made one). */
async function caOf(kube: Kube): Promise<string> {
  const r = await kube.kubectl([
    'get',
    'secret',
    'webhook-certs',
    `--namespace=${SYSTEM_NAMESPACE}`,
    '-o',
    'jsonpath={.data.ca-cert\\.pem}',
  ]);
  return r.code === 0 ? Buffer.from(r.stdout.trim(), 'base64').toString('utf8') : '';
}

export interface PolicyControllerStart {
  readonly webhook: Webhook;
  readonly kube: Kube;
  readonly version: string;
  /** Logs of the trusted root that policy-controller cannot express (see policy-controller-trust.ts). */
  readonly leftOut: readonly string[];
}

/** kube-apiserver + etcd, policy-controller's resources, then its webhook, ready when it admits `probe`. */
export async function startPolicyController(
  runDir: RunDir,
  c: SignedCase,
  probe: string,
  module: { dir: string; version: string },
): Promise<PolicyControllerStart> {
  const { dir: moduleDir, version } = module;
  const kube = await startKube(runDir);
  try {
    // Upstream's own files: the namespace, both CRDs, every ConfigMap the webhook watches (knative's
    // informed watcher refuses to start without them), and 500-webhook-configuration.yaml: the empty
    // `webhook-certs` Secret its certificate controller fills (it never creates one) and the Pod
    // webhook configurations it patches (the apiserver never calls them: no Pod is created here). Not
    // 501 (the webhooks of its own CRDs: the apiserver would call them on the TrustRoot and policy
    // below, and cannot reach a Service here), no RBAC (it runs with the admin kubeconfig).
    const config = path.join(moduleDir, 'config');
    const files = [
      '100-namespace.yaml',
      '300-clusterimagepolicy.yaml',
      '300-trustroot.yaml',
      '500-webhook-configuration.yaml',
      ...readdirSync(config).filter((f) => /^config-.*\.yaml$/.test(f)),
    ];
    for (const f of files) await apply(kube, readFileSync(path.join(config, f), 'utf8'));
    await kubectlOk(kube.kubectl, ['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    // The Pod's namespace and ServiceAccount (its pull-secret lookup, k8schain, reads the SA).
    await kube.ensureNamespace('apps');
    await kube.createServiceAccount('apps', 'default');
    const { keys, leftOut } = sigstoreKeysOf(
      JSON.parse(readFileSync(PROD_ROOT_PATH, 'utf8')) as TrustedRootJson,
    );
    await apply(
      kube,
      JSON.stringify({
        apiVersion: 'policy.sigstore.dev/v1alpha1',
        kind: 'TrustRoot',
        metadata: { name: TRUST_ROOT },
        spec: { sigstoreKeys: keys },
      }),
    );
    await apply(kube, JSON.stringify(clusterImagePolicy(c)));

    const port = POLICY_CONTROLLER_PORT;
    const home = runDir.sub('policy-controller-home');
    const service: Service = await startService({
      name: 'policy-controller-webhook',
      command: POLICY_CONTROLLER_BIN,
      // KUBECONFIG, not --kubeconfig: main's first flag.Parse() runs before knative defines that flag.
      args: ['--disable-tuf'],
      env: {
        // config/webhook.yaml's env, plus the ports knative would otherwise take fixed (9090, 8008).
        KUBECONFIG: kube.kubeconfig,
        SYSTEM_NAMESPACE,
        CONFIG_LOGGING_NAME: 'config-logging',
        METRICS_DOMAIN: 'sigstore.dev/policy',
        WEBHOOK_NAME: 'webhook',
        KUBERNETES_MIN_VERSION: '1.21.0',
        HOME: home,
        METRICS_PROMETHEUS_HOST: loopback,
        METRICS_PROMETHEUS_PORT: String(await freePort()),
        PROFILING_PORT: String(await freePort()),
      },
      withheldEnv: /^(AWS_|GOOGLE_|AZURE_)/,
      logDir: runDir.logs,
      // Up once its certificate controller has filled the Secret; admitting is checked below.
      ready: async () => (await caOf(kube)) !== '',
      readyTimeoutMs: 120_000,
    });
    const caFile = path.join(runDir.sub('policy-controller-ca'), 'ca.pem');
    writeFileSync(caFile, await caOf(kube));
    const webhook: Webhook = {
      name: `policy-controller ${version}`,
      url: `https://${loopback}:${port}/validations`,
      caFile,
      servername: `webhook.${SYSTEM_NAMESPACE}.svc`,
      pid: service.pid,
      logFile: service.logFile,
      stop: () => service.stop(),
    };
    try {
      await untilAdmitted(webhook, probe, 180_000);
    } catch (error) {
      await service.stop();
      throw error;
    }
    return { webhook, kube, version, leftOut };
  } catch (error) {
    await kube.stop();
    throw error;
  }
}

/** The chart's `nodeOptions` of the tree at `root` (what its Pods get as NODE_OPTIONS). */
export function chartNodeOptions(root: string): string {
  const values = parse(readFileSync(path.join(root, 'charts', 'sigward', 'values.yaml'), 'utf8')) as {
    nodeOptions?: string;
  };
  return values.nodeOptions ?? '';
}

/**
 * `sigward webhook` of the tree at `root`, with the same identity and trusted root, under the chart's
 * NODE_OPTIONS. `nodeArgs` go to node before the script (any flag, e.g. `--cpu-prof --cpu-prof-dir=DIR`
 * or `--trace-gc`, which NODE_OPTIONS refuses; a V8 flag there overrides the chart's);
 * `name` tells two sigward trees apart in one run. `leafMemo` leaves the leaf memo on (the same
 * certificate again for every cold image after the first); off, each leaf is one seen first.
 */
export async function startSigward(
  runDir: RunDir,
  root: string,
  c: SignedCase,
  probe: string,
  {
    name = 'sigward',
    nodeArgs = [],
    leafMemo = false,
  }: { name?: string; nodeArgs?: readonly string[]; leafMemo?: boolean } = {},
): Promise<Webhook> {
  const dir = runDir.sub(name.replace(/[^a-z0-9-]+/gi, '-'));
  const policies = path.join(dir, 'policies');
  mkdirSync(policies);
  writeFileSync(
    path.join(policies, 'bench.yaml'),
    stringify({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name: 'bench-signed' },
      spec: {
        images: [c.glob],
        authorities: [
          { name: 'release-workflow', keyless: { identities: [{ issuer: c.issuer, subject: c.subject }] } },
        ],
      },
    }),
  );
  const tls = makeTestTls(dir);
  const caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, tls.caPem);
  const port = await freePort();
  const service = await startService({
    name: `${name.replace(/[^a-z0-9-]+/gi, '-')}-webhook`,
    command: path.join(repoRoot, 'node_modules', '.bin', 'node'),
    args: [
      ...nodeArgs,
      path.join(root, 'bin', 'sigward.js'),
      'webhook',
      `--listen=${loopback}:${port}`,
      `--policies=${policies}`,
      `--trusted-root=${PROD_ROOT_PATH}`,
      `--tls-cert=${tls.certFile}`,
      `--tls-key=${tls.keyFile}`,
      // Every cold image holds the same signature: its leaf as one seen for the first time.
      ...(leafMemo ? [] : leafMemoOffFlag(root)),
    ],
    // As the image and the chart run it: NODE_OPTIONS is the chart's `nodeOptions`.
    env: { NODE_OPTIONS: chartNodeOptions(root) },
    withheldEnv: /^(KUBECONFIG|AWS_|GOOGLE_|AZURE_)/,
    logDir: runDir.logs,
    ready: async () =>
      (await postReview({ url: `https://${loopback}:${port}/validate`, caFile, servername: '-' }, probe))
        .allowed,
    readyTimeoutMs: 120_000,
  });
  return {
    name,
    url: `https://${loopback}:${port}/validate`,
    caFile,
    servername: '-',
    pid: service.pid,
    logFile: service.logFile,
    stop: () => service.stop(),
  };
}

/** What one load of cold or warm reviews measured (the load client's figures and the process's CPU). */
export interface Load {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuMsPerReview: number;
  /** The kernel's part of cpuMsPerReview. */
  readonly sysMsPerReview: number;
}

/** verifyImage alone (bench/policy-controller-verify.ts), measured beside the webhooks. */
export interface Verifier {
  readonly name: string;
  readonly pid: number;
  /** Verifies the signed image in each repository, `connections` at a time; rejects on any failure. */
  run(connections: number, repositories: readonly string[]): Promise<Load>;
  stop(): Promise<void>;
}
export type Participant = Webhook | Verifier;
export const isVerifier = (p: Participant): p is Verifier => 'run' in p;

/** The child's next message; rejects if it exits first (a crash must fail the run, never hang it). */
function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => {
      child.off('message', onMessage);
      reject(new Error(`the verifyImage process exited (code ${String(code)})`));
    };
    const onMessage = (message: unknown): void => {
      child.off('exit', onExit);
      resolve(message as T);
    };
    child.once('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * verifyImage alone in a process of its own, with the NODE_OPTIONS the chart of the tree at `root`
 * gives the webhook (and `nodeArgs`), verifying `image` in the registry's repositories it is sent.
 */
export async function startVerifier(
  image: { registry: string; digest: string; subject: string; issuer: string },
  root: string,
  nodeArgs: readonly string[] = [],
): Promise<Verifier> {
  const child = fork(
    path.join(path.dirname(fileURLToPath(import.meta.url)), 'policy-controller-verify.ts'),
    [image.registry, image.digest, image.subject, image.issuer],
    {
      env: { ...process.env, NODE_OPTIONS: chartNodeOptions(root) },
      execArgv: [...nodeArgs],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = await nextMessage<{ ready?: boolean }>(child);
  if (first.ready !== true) throw new Error(`the verifyImage process said ${JSON.stringify(first)}`);
  return {
    name: 'verifyImage alone',
    pid: child.pid!,
    async run(connections, repositories) {
      const answer = nextMessage<{ result?: Load; error?: string }>(child);
      child.send({ connections, repositories });
      const { result, error } = await answer;
      if (result === undefined) throw new Error(`verifyImage alone: ${error}`);
      return result;
    },
    async stop() {
      if (child.connected) child.send('stop');
      await exited;
    },
  };
}
