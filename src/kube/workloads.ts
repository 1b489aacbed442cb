// The workloads running in a cluster: Pods that have not finished, each with the workload that owns
// it (its controller, and the Deployment behind a ReplicaSet), read with `list pods` only (paged),
// and the labels of namespaces (`list namespaces`) for the webhook's skip rules. Read-only, no
// Secrets: `sigward policy test --cluster` uses it, and so can a periodic re-check.
import type { CoreApi } from './client/apis.ts';
import type { Pod } from './client/resources.ts';

export interface WorkloadOwner {
  readonly kind: string;
  readonly name: string;
}

export interface RunningPod {
  readonly namespace: string;
  readonly name: string;
  /** The top-level workload (Deployment for a ReplicaSet it made), or the Pod itself when it has none. */
  readonly owner: WorkloadOwner;
  /** The Pod as plain JSON (dates as strings), without managedFields: what an AdmissionReview carries. */
  readonly object: Record<string, unknown>;
}

/** Pods still pending or running (not Succeeded / Failed). */
const UNFINISHED = 'status.phase!=Succeeded,status.phase!=Failed';
const PAGE = 500;

interface OwnedMetadata {
  readonly name?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly { kind?: unknown; name?: unknown; controller?: unknown }[];
}

/**
 * The one reading of a Pod's ownerReferences (no further reads): its controller, the reference marked
 * `controller` (Kubernetes' GetControllerOf; an owner that is not the controller, e.g. one kept only
 * for garbage collection, does not run the Pod); undefined when none is. The re-check reports it as is
 * (kube/running-pods.ts); `policy test --cluster` groups by the workload above it (ownerOf).
 */
export function podController(metadata: OwnedMetadata | undefined): WorkloadOwner | undefined {
  const controller = metadata?.ownerReferences?.find((r) => r.controller === true);
  return typeof controller?.kind === 'string' && typeof controller.name === 'string'
    ? { kind: controller.kind, name: controller.name }
    : undefined;
}

/**
 * The top-level owner of a Pod: its controller, the Deployment for a ReplicaSet named
 * `<deployment>-<pod-template-hash>`, or the Pod itself when nothing owns it.
 */
export function ownerOf(pod: { readonly metadata?: OwnedMetadata }): WorkloadOwner {
  const controller = podController(pod.metadata);
  if (controller === undefined) return { kind: 'Pod', name: pod.metadata?.name ?? '' };
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (controller.kind === 'ReplicaSet' && hash !== undefined && controller.name.endsWith(`-${hash}`))
    return { kind: 'Deployment', name: controller.name.slice(0, -hash.length - 1) };
  return controller;
}

/** Every unfinished Pod, in one namespace or all of them, page by page. */
export async function listRunningPods(
  core: CoreApi,
  options: { readonly namespace?: string; readonly maxPods?: number } = {},
): Promise<RunningPod[]> {
  const pods: RunningPod[] = [];
  const max = options.maxPods ?? 100_000;
  let next: string | undefined;
  do {
    const list = await core.listPods({
      fieldSelector: UNFINISHED,
      limit: PAGE,
      continue: next,
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    });
    for (const pod of list.items) {
      if (pods.length >= max) return pods;
      pods.push(runningPod(pod));
    }
    next = list.metadata?.continue;
  } while (next !== undefined && next !== '');
  return pods;
}

function runningPod(pod: Pod): RunningPod {
  const object = JSON.parse(JSON.stringify(pod)) as Record<string, unknown> & {
    metadata?: Record<string, unknown>;
  };
  if (object.metadata !== undefined) delete object.metadata['managedFields'];
  return {
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    owner: ownerOf(pod),
    object: { apiVersion: 'v1', kind: 'Pod', ...object },
  };
}

/** Labels of every namespace (for opt-in / opt-out scope). */
export async function listNamespaceLabels(
  core: CoreApi,
): Promise<Map<string, Readonly<Record<string, string>>>> {
  const labels = new Map<string, Readonly<Record<string, string>>>();
  const list = await core.listNamespaces();
  for (const ns of list.items)
    if (ns.metadata?.name !== undefined) labels.set(ns.metadata.name, ns.metadata.labels ?? {});
  return labels;
}
