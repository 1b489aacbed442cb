// The requests sigward makes, one small typed function per verb and resource (RBAC in the chart
// grants exactly these): Secrets and ServiceAccounts get; Pods and Namespaces list (paged);
// Leases get/create/update; events.k8s.io Events create; custom objects (sigward's policies,
// PolicyReports) get/list/create/update/delete and merge-patch of their status.
import type { KubeClient, Query } from './http.ts';
import { MERGE_PATCH, resourcePath } from './resources.ts';
import type {
  EventsV1Event,
  KubeList,
  KubeObject,
  Lease,
  Namespace,
  Pod,
  ResourcePath,
  Secret,
  ServiceAccount,
} from './resources.ts';

type Named = { readonly namespace: string; readonly name: string };

export class CoreApi {
  readonly #client: KubeClient;
  constructor(client: KubeClient) {
    this.#client = client;
  }
  readSecret(ref: Named): Promise<Secret> {
    return this.#client.request('GET', resourcePath({ group: '', version: 'v1', plural: 'secrets', ...ref }));
  }
  readServiceAccount(ref: Named): Promise<ServiceAccount> {
    return this.#client.request(
      'GET',
      resourcePath({ group: '', version: 'v1', plural: 'serviceaccounts', ...ref }),
    );
  }
  /** One page of Pods, in one namespace or all. */
  listPods(query: Query & { readonly namespace?: string }): Promise<KubeList<Pod>> {
    const { namespace, ...rest } = query;
    return this.#client.request(
      'GET',
      resourcePath({
        group: '',
        version: 'v1',
        plural: 'pods',
        ...(namespace === undefined ? {} : { namespace }),
      }),
      { query: rest },
    );
  }
  listNamespaces(): Promise<KubeList<Namespace>> {
    return this.#client.request('GET', resourcePath({ group: '', version: 'v1', plural: 'namespaces' }));
  }
}

export class LeaseApi {
  readonly #client: KubeClient;
  constructor(client: KubeClient) {
    this.#client = client;
  }
  #path(namespace: string, name?: string): string {
    return resourcePath({
      group: 'coordination.k8s.io',
      version: 'v1',
      plural: 'leases',
      namespace,
      ...(name === undefined ? {} : { name }),
    });
  }
  read(ref: Named): Promise<Lease> {
    return this.#client.request('GET', this.#path(ref.namespace, ref.name));
  }
  create(namespace: string, lease: Lease): Promise<Lease> {
    return this.#client.request('POST', this.#path(namespace), { body: lease });
  }
  /** Update with the lease's resourceVersion: a concurrent writer makes this a 409 Conflict. */
  replace(ref: Named, lease: Lease): Promise<Lease> {
    return this.#client.request('PUT', this.#path(ref.namespace, ref.name), { body: lease });
  }
}

export class EventsApi {
  readonly #client: KubeClient;
  constructor(client: KubeClient) {
    this.#client = client;
  }
  create(namespace: string, event: EventsV1Event): Promise<unknown> {
    return this.#client.request(
      'POST',
      resourcePath({ group: 'events.k8s.io', version: 'v1', plural: 'events', namespace }),
      { body: event },
    );
  }
}

/** Objects of a custom resource (its group, version and plural fixed by the caller). */
export class CustomObjectsApi {
  readonly #client: KubeClient;
  constructor(client: KubeClient) {
    this.#client = client;
  }
  get<T extends KubeObject>(at: ResourcePath): Promise<T> {
    return this.#client.request('GET', resourcePath(at));
  }
  list<T extends KubeObject>(at: ResourcePath, query: Query = {}): Promise<KubeList<T>> {
    return this.#client.request('GET', resourcePath(at), { query });
  }
  create<T extends KubeObject>(at: ResourcePath, body: T): Promise<T> {
    return this.#client.request('POST', resourcePath(at), { body });
  }
  replace<T extends KubeObject>(at: ResourcePath, body: T): Promise<T> {
    return this.#client.request('PUT', resourcePath(at), { body });
  }
  delete(at: ResourcePath): Promise<unknown> {
    return this.#client.request('DELETE', resourcePath(at));
  }
  /** A JSON merge patch of the status subresource. */
  patchStatus(at: ResourcePath, patch: unknown): Promise<unknown> {
    return this.#client.request('PATCH', resourcePath({ ...at, subresource: 'status' }), {
      body: patch,
      contentType: MERGE_PATCH,
    });
  }
}
