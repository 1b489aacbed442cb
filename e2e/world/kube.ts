// The world's Kubernetes control plane: etcd and a real kube-apiserver on loopback, set up the way
// controller-runtime's envtest does it, plus what keyless signing needs: the apiserver is an OIDC issuer
// (service-account tokens) whose discovery document and JWKS anyone may read, so Fulcio can verify
// tokens without credentials. No controller-manager, scheduler or kubelet: objects are stored and
// admitted, never reconciled.
import https from 'node:https';
import path from 'node:path';
import { WorldError } from './errors.ts';
import { startEtcd, type Etcd } from './etcd.ts';
import { kubectlOk, kubectlRunner, writeKubeconfig, type Kubectl } from './kubectl.ts';
import { createCa, createSigningKeyPair, issueClientCert, issueServingCert } from './pki.ts';
import { freePort, loopback } from './ports.ts';
import { answers } from './probe.ts';
import { startService, type Service } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { goTool } from './tools.ts';

export type { Kubectl, KubectlOptions, KubectlResult } from './kubectl.ts';

export interface KubeOptions {
  /** The apiserver's secure port (checked by the caller with `requestedPort`); a free one by default. */
  port?: number;
  /** How long the apiserver may take to become ready; 120 s by default (a busy 2-core machine). */
  readyTimeoutMs?: number;
  /** More kube-apiserver flags, after ours (e.g. `--feature-gates=…` or an audit policy for one test). */
  apiserverArgs?: readonly string[];
}

export interface TokenOptions {
  /** The token's `aud`: `sigstore` for Fulcio. */
  audience: string;
  /** kubectl duration syntax, e.g. `10m` (the apiserver's minimum) or `1h`; 10m by default. */
  duration?: string;
  /** Bind the token to this Pod, as the kubelet's projected tokens are (void once the Pod is gone). */
  boundPod?: { name: string; uid: string };
}

export interface Kube {
  /** `https://127.0.0.1:<port>`: the apiserver. */
  readonly url: string;
  /** The service-account token issuer, exactly as in tokens and the discovery document (no trailing slash). */
  readonly issuer: string;
  readonly jwksUri: string;
  /** PEM of the CA that issued the apiserver's serving certificate (for Fulcio's SSL_CERT_FILE). */
  readonly caPem: string;
  readonly caFile: string;
  /** The admin's kubeconfig (client certificate, group system:masters), self-contained. */
  readonly kubeconfig: string;
  /** The server's gitVersion, e.g. `v1.36.3`. */
  readonly version: string;
  readonly etcdUrl: string;
  readonly logFiles: readonly string[];
  kubectl: Kubectl;
  /** GET without credentials, as Fulcio or any stranger would: status and body. */
  anonymousGet(urlPath: string): Promise<{ status: number; body: string }>;
  ensureNamespace(namespace: string): Promise<void>;
  createServiceAccount(namespace: string, name: string): Promise<void>;
  /** A real TokenRequest (`kubectl create token`): a JWT signed by the apiserver. */
  createToken(namespace: string, serviceAccount: string, options: TokenOptions): Promise<string>;
  /** Stops the apiserver, then etcd. Safe to call twice. */
  stop(): Promise<void>;
}

/** The built-in role that may read `/.well-known/openid-configuration` and `/openid/v1/jwks`. */
const discoveryRole = 'system:service-account-issuer-discovery';

function httpsGet(url: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(url, { ca: caPem, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

async function makePki(dir: string) {
  const [servingCa, clientCa, serviceAccountKey] = await Promise.all([
    createCa(dir, 'serving-ca'),
    createCa(dir, 'client-ca'),
    createSigningKeyPair(dir, 'service-account'),
  ]);
  const [serving, admin] = await Promise.all([
    issueServingCert(servingCa, dir, 'apiserver', [loopback, 'localhost']),
    issueClientCert(clientCa, dir, 'admin', 'admin', ['system:masters']),
  ]);
  return { servingCa, clientCa, serviceAccountKey, serving, admin };
}

/** Starts pieces that can start in parallel; if one fails, stops those that started, then rethrows. */
async function both<A extends { stop(): Promise<void> }, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  if (ra.status === 'fulfilled') await ra.value.stop();
  throw ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason;
}

/**
 * Lets anonymous clients read the issuer's discovery document and keys, then checks that they can, and
 * that both advertise loopback URLs (Fulcio dials whatever `jwks_uri` says).
 */
async function openDiscovery(kubectl: Kubectl, url: string, issuer: string, jwksUri: string, caPem: string) {
  // apply, not create: a second start over the same etcd data finds the binding there already.
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'sigward-e2e-anonymous-oidc-discovery' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: discoveryRole },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:unauthenticated' }],
  };
  await kubectlOk(kubectl, ['apply', '-f', '-'], { input: JSON.stringify(binding) });
  // The authorizer sees the new binding through an informer: poll briefly rather than assume.
  const deadline = Date.now() + 15_000;
  let last = { status: 0, body: '' };
  while (Date.now() < deadline) {
    last = await httpsGet(`${url}/.well-known/openid-configuration`, caPem);
    if (last.status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (last.status !== 200)
    throw new WorldError(
      'KUBE_DISCOVERY',
      `anonymous GET ${url}/.well-known/openid-configuration answered ${last.status}, not 200: ${last.body.replace(/\s+/g, ' ').trim()}`,
    );
  const discovery = JSON.parse(last.body) as { issuer?: unknown; jwks_uri?: unknown };
  if (discovery.issuer !== issuer || discovery.jwks_uri !== jwksUri)
    throw new WorldError(
      'KUBE_DISCOVERY',
      `discovery document advertises issuer ${String(discovery.issuer)} and jwks_uri ${String(discovery.jwks_uri)}, expected ${issuer} and ${jwksUri}`,
    );
  const jwks = await httpsGet(jwksUri, caPem);
  const keys = jwks.status === 200 ? (JSON.parse(jwks.body) as { keys?: unknown[] }).keys : undefined;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new WorldError('KUBE_DISCOVERY', `anonymous GET ${jwksUri} answered ${jwks.status} without keys`);
}

export async function startKube(runDir: RunDir, options: KubeOptions = {}): Promise<Kube> {
  // Look the binaries up first: a missing one is one line, before anything starts.
  const apiserverBinary = goTool('kube-apiserver');
  const kubectlBinary = goTool('kubectl');
  const dir = runDir.sub('kube');
  const port = options.port ?? (await freePort());
  const url = `https://${loopback}:${port}`;
  const issuer = url;
  const jwksUri = `${url}/openid/v1/jwks`;

  const [etcd, pki] = await both<Etcd, Awaited<ReturnType<typeof makePki>>>(startEtcd(runDir), makePki(dir));
  let apiserver: Service;
  try {
    apiserver = await startService({
      name: 'kube-apiserver',
      command: apiserverBinary,
      args: [
        `--etcd-servers=${etcd.url}`,
        `--advertise-address=${loopback}`,
        `--bind-address=${loopback}`,
        `--secure-port=${port}`,
        `--cert-dir=${dir}`,
        `--tls-cert-file=${pki.serving.certFile}`,
        `--tls-private-key-file=${pki.serving.keyFile}`,
        `--client-ca-file=${pki.clientCa.certFile}`,
        `--service-account-issuer=${issuer}`,
        `--service-account-jwks-uri=${jwksUri}`,
        `--service-account-key-file=${pki.serviceAccountKey.publicKeyFile}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey.privateKeyFile}`,
        '--authorization-mode=RBAC',
        // No controller creates `default` service accounts, so the plugin would refuse every pod.
        '--disable-admission-plugins=ServiceAccount',
        '--service-cluster-ip-range=10.0.0.0/24',
        '--allow-privileged=true',
        // The `kubernetes` Service's endpoint would be 127.0.0.1, which Endpoints validation refuses
        // (loopback): without this the reconciler logs that error every 10 s. Nothing here dials it.
        '--endpoint-reconciler-type=none',
        ...(options.apiserverArgs ?? []),
      ],
      logDir: runDir.logs,
      ready: () =>
        answers(`${url}/readyz`, {
          ca: pki.servingCa.certPem,
          cert: pki.admin.certPem,
          key: pki.admin.keyPem,
        }),
      readyTimeoutMs: options.readyTimeoutMs ?? 120_000,
    });
  } catch (error) {
    await etcd.stop();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= apiserver.stop().finally(() => etcd.stop());
    return stopping;
  };

  try {
    const kubeconfig = path.join(dir, 'admin.kubeconfig');
    await writeKubeconfig(
      kubeconfig,
      { server: url, caPem: pki.servingCa.certPem },
      { name: 'admin', certPem: pki.admin.certPem, keyPem: pki.admin.keyPem },
    );
    const kubectl = kubectlRunner(kubectlBinary, kubeconfig, runDir.sub('kubectl-cache'));
    const [, versionReply] = await Promise.all([
      openDiscovery(kubectl, url, issuer, jwksUri, pki.servingCa.certPem),
      httpsGet(`${url}/version`, pki.servingCa.certPem),
    ]);
    const version = String((JSON.parse(versionReply.body) as { gitVersion?: unknown }).gitVersion);

    const apply = async (manifest: object): Promise<void> => {
      await kubectlOk(kubectl, ['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    };
    return {
      url,
      issuer,
      jwksUri,
      caPem: pki.servingCa.certPem,
      caFile: pki.servingCa.certFile,
      kubeconfig,
      version,
      etcdUrl: etcd.url,
      logFiles: [etcd.logFile, apiserver.logFile],
      kubectl,
      anonymousGet: (urlPath) => httpsGet(new URL(urlPath, url).href, pki.servingCa.certPem),
      ensureNamespace: (namespace) =>
        apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }),
      createServiceAccount: (namespace, name) =>
        apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } }),
      async createToken(namespace, serviceAccount, { audience, duration = '10m', boundPod }) {
        const stdout = await kubectlOk(kubectl, [
          'create',
          'token',
          serviceAccount,
          `--namespace=${namespace}`,
          `--audience=${audience}`,
          `--duration=${duration}`,
          ...(boundPod === undefined
            ? []
            : [
                '--bound-object-kind=Pod',
                `--bound-object-name=${boundPod.name}`,
                `--bound-object-uid=${boundPod.uid}`,
              ]),
        ]);
        return stdout.trim();
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
