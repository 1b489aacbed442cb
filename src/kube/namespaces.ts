// Labels of namespaces (opt-out `sigward.dev/exclude=true`, opt-in `sigward.dev/include=true`), from
// a namespace informer (list + watch on namespaces: their labels only).
import type { KubeClient } from './client/http.ts';
import type { Namespace } from './client/resources.ts';
import { ResourceInformer } from './informer.ts';

export class NamespaceLabels {
  readonly #informer: ResourceInformer<Namespace>;

  constructor(client: KubeClient, onError?: (error: unknown) => void) {
    this.#informer = new ResourceInformer<Namespace>(client, '/api/v1/namespaces', {
      changed: () => undefined,
      ...(onError === undefined ? {} : { failed: onError }),
    });
  }

  /** The namespace's labels, or undefined before the first list (the request is then checked). */
  labels(namespace: string): Readonly<Record<string, string>> | undefined {
    if (!this.#informer.synced) return undefined;
    const ns = this.#informer.get('', namespace);
    return ns === undefined ? undefined : (ns.metadata?.labels ?? {});
  }

  start(): Promise<void> {
    return this.#informer.start();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }
}
