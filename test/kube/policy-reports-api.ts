// A stand-in for the apiserver's wgpolicyk8s.io/v1alpha2 policyreports endpoints as CustomObjectsApi
// calls them, named as such (the real apiserver with the upstream CRD is in e2e/policy-reports.e2e.ts).
// Faithful where the writer depends on it: get/replace/delete of a missing object are 404, create of an
// existing one is 409, replace with a stale resourceVersion is 409, every write bumps the
// resourceVersion, list filters by an equality label selector; errors carry `code` as client-node's
// ApiException does. Every call is recorded.
import type { CustomObjectsApi } from '@kubernetes/client-node';

type Stored = {
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
};

export interface PolicyReportsApiUnderTest {
  readonly api: CustomObjectsApi;
  readonly objects: Map<string, Stored>;
  readonly calls: string[];
  put(object: Stored): void;
}

/** Where a call points: the resource, and for the namespaced calls the namespace and object name. */
type Resource = { group: string; version: string; plural: string };
type InNamespace = Resource & { namespace: string };
type Named = InNamespace & { name: string };

const apiError = (code: number, message: string) =>
  Object.assign(new Error(message), { code, body: message });

export function policyReportsApi(): PolicyReportsApiUnderTest {
  const objects = new Map<string, Stored>();
  const calls: string[] = [];
  let version = 100;
  const check = (p: Resource) => {
    if (p.group !== 'wgpolicyk8s.io' || p.version !== 'v1alpha2' || p.plural !== 'policyreports')
      throw apiError(
        404,
        `the server could not find the requested resource ${p.group}/${p.version}/${p.plural}`,
      );
  };
  /** Every write bumps the resourceVersion and answers a copy of what was stored. */
  const store = (key: string, body: Stored): Stored => {
    const stored = structuredClone(body);
    stored.metadata.resourceVersion = String(++version);
    objects.set(key, stored);
    return structuredClone(stored);
  };
  const api = {
    async getNamespacedCustomObject(p: Named) {
      check(p);
      calls.push(`get ${p.namespace}/${p.name}`);
      const found = objects.get(`${p.namespace}/${p.name}`);
      if (found === undefined) throw apiError(404, 'not found');
      return structuredClone(found);
    },
    async createNamespacedCustomObject(p: InNamespace & { body: Stored }) {
      check(p);
      const key = `${p.namespace}/${p.body.metadata.name}`;
      calls.push(`create ${key}`);
      if (p.body.metadata.namespace !== p.namespace) throw apiError(400, 'namespace does not match');
      if (objects.has(key)) throw apiError(409, 'already exists');
      return store(key, p.body);
    },
    async replaceNamespacedCustomObject(p: Named & { body: Stored }) {
      check(p);
      const key = `${p.namespace}/${p.name}`;
      calls.push(`replace ${key}`);
      const found = objects.get(key);
      if (found === undefined) throw apiError(404, 'not found');
      if (p.body.metadata.resourceVersion !== found.metadata.resourceVersion)
        throw apiError(409, 'the object has been modified');
      return store(key, p.body);
    },
    async deleteNamespacedCustomObject(p: Named) {
      check(p);
      const key = `${p.namespace}/${p.name}`;
      calls.push(`delete ${key}`);
      if (!objects.delete(key)) throw apiError(404, 'not found');
      return {};
    },
    async listClusterCustomObject(p: Resource & { labelSelector?: string }) {
      check(p);
      calls.push(`list ${p.labelSelector ?? ''}`);
      const [k, v] = (p.labelSelector ?? '').split('=');
      return {
        items: [...objects.values()]
          .filter((o) => k === undefined || k === '' || o.metadata.labels?.[k] === v)
          .map((o) => structuredClone(o)),
      };
    },
  };
  return {
    api: api as unknown as CustomObjectsApi,
    objects,
    calls,
    put: (object) =>
      objects.set(`${object.metadata.namespace}/${object.metadata.name}`, structuredClone(object)),
  };
}
