// `sigward webhook` as a host process registered with the world's apiserver: a serving certificate of
// its own CA, Validating and Mutating webhook configurations at https://127.0.0.1:<port>/validate|mutate
// for Pods of one namespace, and the CRDs of the chart. Ready when the apiserver actually consults it
// (a dry run judged by sigward), never after a fixed sleep.
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { podManifest, startHostWebhook as startHostProcess, waitForSigwardDenial } from './chart.ts';
import { writeSecretFile } from './clients.ts';
import { WorldError } from './errors.ts';
import { kubectlOk } from './kubectl.ts';
import type { World } from './world.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');

export interface HostWebhook {
  readonly port: number;
  stop(): Promise<void>;
}

export interface HostWebhookOptions {
  /** The namespace whose Pods are reviewed (created if missing). */
  readonly namespace: string;
  /** Where the webhook runs its leader election and writes policy status. */
  readonly ownNamespace: string;
  /** An image no policy admits: the engagement probe is a dry run of a Pod with it. */
  readonly probeImage: string;
}

/** Installs the chart's CRDs (apply; Established). */
export async function installCrds(world: World): Promise<void> {
  await kubectlOk(world.kube.kubectl, ['apply', '-f', path.join(repoRoot, 'charts/sigward/crds')]);
  await kubectlOk(world.kube.kubectl, [
    'wait',
    '--for=condition=Established',
    'crd',
    '--all',
    '--timeout=30s',
  ]);
}

/** Starts the webhook and registers it; returns once the apiserver sends it reviews. */
export async function startHostWebhook(world: World, options: HostWebhookOptions): Promise<HostWebhook> {
  const { namespace, ownNamespace } = options;
  await world.kube.ensureNamespace(namespace);
  await world.kube.ensureNamespace(ownNamespace);
  // The process itself as the chart's host webhook is started (its own CA, a free port, ready on /readyz);
  // the placeholders of --listen/--tls-* are replaced there.
  const started = await startHostProcess(world.runDir, {
    name: 'sigward-webhook',
    deploymentArgs: [
      'webhook',
      '--listen=',
      '--tls-cert=',
      '--tls-key=',
      `--trusted-root=${world.sigstore.trustedRootPath}`,
      '--timeout-seconds=10',
      `--namespace=${ownNamespace}`,
      '--no-match-action=allow',
    ],
    kubeconfig: world.kube.kubeconfig,
  });
  const { service, port } = started;
  const caBundle = Buffer.from(started.caPem).toString('base64');
  const hook = (name: string, route: string) => ({
    name,
    admissionReviewVersions: ['v1'],
    sideEffects: 'NoneOnDryRun',
    timeoutSeconds: 10,
    failurePolicy: 'Fail',
    clientConfig: { url: `https://127.0.0.1:${port}/${route}`, caBundle },
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] }],
  });
  const registration = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'sigward' },
        webhooks: [{ ...hook('mutate.sigward.dev', 'mutate'), reinvocationPolicy: 'IfNeeded' }],
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: 'sigward' },
        webhooks: [hook('validate.sigward.dev', 'validate')],
      },
    ],
  };
  const registered = await world.kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(registration) });
  if (registered.code !== 0) {
    await service.stop();
    throw new WorldError('WEBHOOK', `registering the webhook: ${registered.stderr}`);
  }
  // The apiserver picks webhook configurations up through an informer: wait until a dry run is judged.
  const denied = await waitForSigwardDenial(
    world.kube.kubectl,
    podManifest(namespace, 'probe', options.probeImage),
  );
  if (denied === '') {
    await service.stop();
    throw new WorldError('WEBHOOK', 'the apiserver never consulted the webhook');
  }
  return { port, stop: () => service.stop() };
}

/** Waits until the webhook has written status for the resource's current generation; its Ready condition. */
export async function observedPolicy(
  world: World,
  name: string,
  kind = 'cip',
): Promise<{ ready: string; message: string }> {
  const get = (jsonpath: string) =>
    kubectlOk(world.kube.kubectl, ['get', kind, name, '-o', `jsonpath=${jsonpath}`]);
  const generation = (await get('{.metadata.generation}')).trim();
  for (let i = 0; i < 200; i++) {
    const out = await get(
      '{.status.observedGeneration} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}',
    );
    const [seen, ready = '', ...message] = out.split(' ');
    if (seen === generation) return { ready, message: message.join(' ') };
    await delay(50);
  }
  throw new WorldError('POLICY', `${kind} ${name}: status never observed generation ${generation}`);
}

/**
 * Applies a ClusterImagePolicy (`spec` besides `images`) and, when `observe`, waits until the webhook
 * has compiled this generation and requires it to be Ready.
 */
export async function applyClusterPolicy(
  world: World,
  name: string,
  images: readonly string[],
  spec: object,
  observe = true,
): Promise<void> {
  const r = await world.kube.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'policy.sigward.dev/v1alpha1',
      kind: 'ClusterImagePolicy',
      metadata: { name },
      spec: { images, ...spec },
    }),
  });
  if (r.code !== 0) throw new WorldError('POLICY', `apply ClusterImagePolicy ${name}: ${r.stderr}`);
  if (!observe) return;
  const status = await observedPolicy(world, name);
  if (status.ready !== 'True')
    throw new WorldError('POLICY', `ClusterImagePolicy ${name} is not Ready: ${status.message}`);
}

/** `cosign sign` of `byDigest` keylessly, with a token of service account `sa` of `namespace`. */
export async function cosignSignAs(
  world: World,
  namespace: string,
  sa: string,
  byDigest: string,
): Promise<void> {
  const token = await world.kube.createToken(namespace, sa, { audience: 'sigstore' });
  const digest = byDigest.slice(byDigest.indexOf('@sha256:') + 8, byDigest.indexOf('@sha256:') + 20);
  const tokenFile = writeSecretFile(world.runDir.sub('tokens'), `${sa}-${digest}`, token);
  await world.clients.cosign([
    'sign',
    '--yes',
    `--identity-token=${tokenFile}`,
    `--signing-config=${world.sigstore.signingConfigPath}`,
    `--trusted-root=${world.sigstore.trustedRootPath}`,
    byDigest,
  ]);
}

/**
 * A keyless authority named `name` accepting `identity` (subject or subjectRegExp) from the world's
 * apiserver issuer. This tier runs no CT log: Fulcio's certificates carry no SCT.
 */
export function keylessAuthority(world: World, name: string, identity: object): object {
  return {
    name,
    keyless: { identities: [{ issuer: world.kube.issuer, ...identity }], insecureIgnoreSCT: true },
  };
}

/**
 * How kubectl prints sigward's denial of a Pod's first container, up to the policy. A reference that
 * already ends with the verified digest is not followed by it again.
 */
export function webhookDenial(image: string, digest: string): string {
  return `Error from server (Forbidden): error when creating "STDIN": admission webhook "validate.sigward.dev" denied the request: image ${image}${image.endsWith(`@${digest}`) ? '' : ` (digest ${digest})`} in spec.containers[0].image: `;
}
