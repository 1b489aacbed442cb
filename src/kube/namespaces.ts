// Labels of namespaces (opt-out `sigward.dev/exclude=true`, opt-in `sigward.dev/include=true`), from
// a namespace informer (list + watch on namespaces: their labels only).
import { CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig, KubernetesListObject, V1Namespace } from '@kubernetes/client-node';
import { ResourceInformer } from './informer.ts';

export class NamespaceLabels {
  readonly #informer: ResourceInformer<V1Namespace>;

  constructor(kubeConfig: KubeConfig, onError?: (error: unknown) => void) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.#informer = new ResourceInformer<V1Namespace>(
      kubeConfig,
      '/api/v1/namespaces',
      () => core.listNamespace() as Promise<KubernetesListObject<V1Namespace>>,
      { changed: () => undefined, ...(onError === undefined ? {} : { failed: onError }) },
    );
  }

  /** The namespace's labels, or undefined before the first list (the request is then checked). */
  labels(namespace: string): Readonly<Record<string, string>> | undefined {
    if (!this.#informer.synced) return undefined;
    const ns = this.#informer.list().find((n) => n.metadata?.name === namespace);
    return ns === undefined ? undefined : (ns.metadata?.labels ?? {});
  }

  start(): Promise<void> {
    return this.#informer.start();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }
}
