// What this world's missing node parts would do for a Pod, done on the host (there is no
// controller-manager and no kubelet here): the Job controller's Pod for a Job (created through the real
// apiserver, so admission — sigward's webhooks included — judges it), and the kubelet's part: each
// volume the container mounts made real in a directory of the run dir (projected service-account tokens
// by TokenRequest with the volume's audience and expiry, bound to the Pod; ConfigMaps read from the
// apiserver; emptyDirs), then the container's `args` run as `sigward` (the image's entrypoint) with the
// container's env, mount paths mapped to those directories.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { runTool, writeSecretFile, type ToolResult } from './clients.ts';
import { WorldError } from './errors.ts';
import { kubectlOk } from './kubectl.ts';
import { repoRoot } from './tools.ts';
import type { World } from './world.ts';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  [field: string]: unknown;
}

export interface Volume {
  name: string;
  projected?: {
    sources: { serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string } }[];
  };
  configMap?: { name: string; items?: { key: string; path: string }[] };
  emptyDir?: Record<string, unknown>;
  [source: string]: unknown;
}

export interface PodSpec {
  serviceAccountName?: string;
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
  [field: string]: unknown;
}

/** A Pod as stored by the apiserver. */
export interface StoredPod {
  name: string;
  namespace: string;
  uid: string;
  spec: PodSpec;
}

/** What a container gets: its environment and arguments with mount paths mapped to host directories. */
export interface ContainerRun {
  env: Record<string, string>;
  args: string[];
  /** Every token the kubelet part requested for it (to assert none is ever printed). */
  tokens: string[];
}

/**
 * The Job controller's Pod for `job` (read from the apiserver): `<job>-<5 chars>`, the Job's labels and
 * a controller owner reference, its template's spec after `mutate` (the mutating admission a cluster
 * adds, e.g. EKS's pod identity webhook). Created through the apiserver; returned as stored.
 */
export async function createJobPod(
  world: World,
  namespace: string,
  job: string,
  mutate: (spec: PodSpec) => Promise<PodSpec> = async (spec) => spec,
): Promise<StoredPod> {
  const kubectl = world.kube.kubectl;
  const stored = JSON.parse(
    await kubectlOk(kubectl, ['get', 'job', job, `--namespace=${namespace}`, '-o', 'json']),
  ) as {
    metadata: { uid: string };
    spec: { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } };
  };
  const name = `${job}-${randomBytes(3).toString('hex').slice(0, 5)}`;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: {
        ...stored.spec.template.metadata?.labels,
        'batch.kubernetes.io/job-name': job,
        'batch.kubernetes.io/controller-uid': stored.metadata.uid,
      },
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          name: job,
          uid: stored.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: await mutate(stored.spec.template.spec),
  };
  const created = JSON.parse(
    await kubectlOk(kubectl, ['create', '-o', 'json', '-f', '-'], { input: JSON.stringify(pod) }),
  ) as { metadata: { uid: string }; spec: PodSpec };
  return { name, namespace, uid: created.metadata.uid, spec: created.spec };
}

const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The kubelet's part for one container of a Pod: its mounted volumes made real under the run dir, its
 * env resolved (plain values and the Pod's own fields). `pod.uid` empty: a Pod that is not stored (the
 * tokens are then not bound). Volumes named in `leaveOut` are not made (the caller stands in for them).
 */
export async function prepareContainer(
  world: World,
  pod: StoredPod,
  container: string,
  leaveOut: readonly string[] = [],
): Promise<ContainerRun> {
  const spec = pod.spec;
  const found = spec.containers.find((c) => c.name === container);
  if (found === undefined) throw new WorldError('KUBELET', `no container ${container} in Pod ${pod.name}`);
  if (found.command !== undefined)
    throw new WorldError('KUBELET', `container ${container}: only the image's entrypoint (sigward) runs`);
  const dir = world.runDir.sub(`pods/${pod.namespace}/${pod.name}`);
  const serviceAccount = spec.serviceAccountName ?? 'default';
  const tokens: string[] = [];
  const mounts: [string, string][] = [];
  for (const mount of found.volumeMounts ?? []) {
    if (leaveOut.includes(mount.name)) continue;
    const volume = spec.volumes?.find((v) => v.name === mount.name);
    const hostDir = path.join(dir, 'volumes', mount.name);
    mkdirSync(hostDir, { recursive: true });
    mounts.push([mount.mountPath, hostDir]);
    if (volume?.projected !== undefined) {
      for (const source of volume.projected.sources) {
        const request = source.serviceAccountToken;
        if (request === undefined)
          throw new WorldError('KUBELET', `volume ${mount.name}: only serviceAccountToken sources are made`);
        const token = await world.kube.createToken(pod.namespace, serviceAccount, {
          audience: request.audience ?? world.kube.issuer,
          duration: `${request.expirationSeconds ?? 3600}s`,
          ...(pod.uid === '' ? {} : { boundPod: { name: pod.name, uid: pod.uid } }),
        });
        tokens.push(token);
        writeSecretFile(hostDir, request.path, token);
      }
    } else if (volume?.configMap !== undefined) {
      const map = JSON.parse(
        await kubectlOk(world.kube.kubectl, [
          'get',
          'configmap',
          volume.configMap.name,
          `--namespace=${pod.namespace}`,
          '-o',
          'json',
        ]),
      ) as { data?: Record<string, string> };
      const data = map.data ?? {};
      const items = volume.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const item of items) writeSecretFile(hostDir, item.path, data[item.key] ?? '');
    } else if (volume?.emptyDir === undefined) {
      throw new WorldError(
        'KUBELET',
        `volume ${mount.name}: this world makes projected tokens, ConfigMaps and emptyDirs only`,
      );
    }
  }
  // One pass (a mapped path is never mapped again), longest mount path first; a path is mapped where a
  // value or a flag's value starts with it.
  mounts.sort(([a], [b]) => b.length - a.length);
  const hostDirOf = new Map(mounts);
  const mountPattern = new RegExp(`(^|=)(${mounts.map(([m]) => escaped(m)).join('|')})(?=/|$)`);
  const mapped = (value: string): string =>
    mounts.length === 0
      ? value
      : value.replace(
          mountPattern,
          (_, lead: string, mountPath: string) => `${lead}${hostDirOf.get(mountPath)}`,
        );
  const fields: Record<string, string> = {
    'metadata.name': pod.name,
    'metadata.namespace': pod.namespace,
    'metadata.uid': pod.uid,
    'spec.serviceAccountName': serviceAccount,
  };
  const env: Record<string, string> = {};
  for (const variable of found.env ?? []) {
    const field = variable.valueFrom?.fieldRef?.fieldPath;
    const value = variable.value ?? (field === undefined ? undefined : fields[field]);
    if (value === undefined)
      throw new WorldError('KUBELET', `env ${variable.name}: only values and the Pod's own fields`);
    env[variable.name] = mapped(value);
  }
  return { env, args: (found.args ?? []).map(mapped), tokens };
}

/**
 * Runs a prepared container: `sigward <args>` (the image's entrypoint) in the clients' fenced
 * environment plus the container's env and `network` (what stands in for DNS). Output unredacted.
 */
export function runContainer(
  world: World,
  run: ContainerRun,
  network: Readonly<Record<string, string>> = {},
): Promise<ToolResult> {
  return runTool(process.execPath, ['src/cli/main.ts', ...run.args], world.clients.env, {
    cwd: repoRoot,
    env: { ...run.env, ...network },
    check: false,
    unredacted: true,
    timeoutMs: 120_000,
  });
}
