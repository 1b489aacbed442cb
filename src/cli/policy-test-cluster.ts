// `sigward policy test --cluster`: which running workloads would the given policies deny? Read-only:
// lists unfinished Pods (and namespaces, for the webhook's opt-in/opt-out scope), groups them by their
// owning workload, and sends one CREATE review per distinct (workload, images) through the webhook's
// engine, as if each Pod were created again now. Registry credentials are the operator's docker config,
// not the Pods' pull secrets (no `get secrets` on workload namespaces); key Secrets named by a policy
// are read by name (`get secrets` in sigward's namespace) only if such a policy is given.
import { imageSites } from '../admission/sites.ts';
import { describeError } from '../errors.ts';
import {
  CoreApi,
  SecretPublicKeys,
  listNamespaceLabels,
  listRunningPods,
  loadKubeConfig,
} from '../kube/index.ts';
import type { RunningPod } from '../kube/index.ts';
import type { TestEngineOptions } from './policy-test-engine.ts';
import { createReview } from './policy-test-inputs.ts';
import type { TestInput } from './policy-test-inputs.ts';
import { UsageError } from './usage-error.ts';

interface ClusterValues {
  readonly policy?: string[];
  readonly namespace?: string;
  readonly kubeconfig?: string;
  readonly 'webhook-namespace'?: string;
  readonly scope?: string;
  readonly 'trusted-root'?: string;
  readonly image?: string[];
  readonly resource?: string[];
  readonly review?: string[];
}

type Base = Omit<TestEngineOptions, 'policies' | 'unmatched'>;

/** One input per distinct (namespace, owner, images) among the running Pods, labelled with the count. */
export function workloadInputs(pods: readonly RunningPod[]): TestInput[] {
  const groups = new Map<string, { pod: RunningPod; count: number }>();
  for (const pod of pods) {
    const key = JSON.stringify([pod.namespace, pod.owner.kind, pod.owner.name, imagesOf(pod)]);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { pod, count: 1 });
    else group.count++;
  }
  return [...groups.values()].map(({ pod, count }) => ({
    label:
      pod.owner.kind === 'Pod'
        ? `Pod ${pod.namespace}/${pod.name}`
        : `${pod.owner.kind} ${pod.namespace}/${pod.owner.name} (${count} pod${count === 1 ? '' : 's'}, e.g. ${pod.name})`,
    review: createReview(pod.object, pod.namespace),
  }));
}

const pods = { group: '', version: 'v1', resource: 'pods' } as const;

/**
 * The Pod's images as the webhook finds them (admission/sites.ts: containers of every kind and image
 * volumes). A Pod the webhook could not read is judged alone, where its review shows why.
 */
function imagesOf(pod: RunningPod): string[] {
  try {
    return imageSites({ resource: pods }, pod.object).map((site) => `${site.field}=${site.image}`);
  } catch {
    return [`unreadable Pod ${pod.namespace}/${pod.name}`];
  }
}

export async function clusterRun<R>(
  values: ClusterValues,
  positionals: readonly string[],
  base: Base,
  unmatched: 'allow' | 'warn' | 'deny',
  run: (options: TestEngineOptions, plan: { name: string; cases: { inputs: TestInput[] }[] }) => Promise<R>,
): Promise<R> {
  if (values.policy === undefined || values.policy.length === 0)
    throw new UsageError('--cluster needs the policies to preview: --policy FILE|DIR');
  if (positionals.length > 0 || [values.image, values.resource, values.review].some((v) => v !== undefined))
    throw new UsageError('--cluster judges the running Pods: no test files, --image, --resource or --review');
  const cluster = loadKubeConfig(values.kubeconfig);
  const core = new CoreApi(cluster);
  let pods: RunningPod[];
  try {
    pods = await listRunningPods(core, values.namespace === undefined ? {} : { namespace: values.namespace });
  } catch (error) {
    throw new Error(`listing Pods failed (needs list pods): ${describeError(error)}`, { cause: error });
  }
  let labels: Map<string, Readonly<Record<string, string>>> | undefined;
  try {
    labels = await listNamespaceLabels(core);
  } catch (error) {
    base.warn(
      `namespaces not listed (${describeError(error)}): every namespace counts as unlabelled, so opt-out exclusions and opt-in inclusions are not seen`,
    );
  }
  const ownNamespace = values['webhook-namespace'] ?? 'sigward';
  try {
    return await run(
      {
        ...base,
        policies: values.policy,
        unmatched,
        ...(values['trusted-root'] === undefined ? {} : { trustedRootFile: values['trusted-root'] }),
        ownNamespace,
        scope: values.scope === 'opt-in' ? 'opt-in' : 'opt-out',
        namespaceLabels: (ns) => labels?.get(ns) ?? (labels === undefined ? undefined : {}),
        keys: new SecretPublicKeys(core),
      },
      {
        name: `cluster ${cluster.connection.server} (${pods.length} running pod${pods.length === 1 ? '' : 's'})`,
        cases: workloadInputs(pods).map((input) => ({ inputs: [input] })),
      },
    );
  } finally {
    await cluster.close();
  }
}
