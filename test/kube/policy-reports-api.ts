// A stand-in for the apiserver's wgpolicyk8s.io/v1alpha2 policyreports endpoints as CustomObjectsApi
// calls them, named as such (the real apiserver with the upstream CRD is in e2e/policy-reports.e2e.ts).
// Faithful where the writer depends on it: get/replace/delete of a missing object are 404, create of an
// existing one is 409, replace with a stale resourceVersion is 409, every write bumps the
// resourceVersion, list filters by an equality label selector; errors are KubeApiErrors with the
// status, as the client's. Every call is recorded.
import { KubeApiError } from '../../src/kube/client/errors.ts';
import type { ResourcePath } from '../../src/kube/client/resources.ts';
import type { ReportStore } from '../../src/kube/policy-report-writer.ts';

type Stored = {
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
};

export interface PolicyReportsApiUnderTest {
  readonly api: ReportStore;
  readonly objects: Map<string, Stored>;
  readonly calls: string[];
  put(object: Stored): void;
}

type Resource = ResourcePath;
type Named = ResourcePath & { namespace: string; name: string };

const apiError = (code: number, message: string) => new KubeApiError(code, undefined, message, 'fake');
const named = (p: ResourcePath): Named => {
  if (p.namespace === undefined || p.name === undefined) throw apiError(405, 'not a named object');
  return p as Named;
};

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
    async get<T>(at: ResourcePath): Promise<T> {
      const p = named(at);
      check(p);
      calls.push(`get ${p.namespace}/${p.name}`);
      const found = objects.get(`${p.namespace}/${p.name}`);
      if (found === undefined) throw apiError(404, 'not found');
      return structuredClone(found) as T;
    },
    async create<T>(p: ResourcePath, object: T): Promise<T> {
      check(p);
      const body = object as unknown as Stored;
      const key = `${p.namespace}/${body.metadata.name}`;
      calls.push(`create ${key}`);
      if (body.metadata.namespace !== p.namespace) throw apiError(400, 'namespace does not match');
      if (objects.has(key)) throw apiError(409, 'already exists');
      return store(key, body) as T;
    },
    async replace<T>(at: ResourcePath, object: T): Promise<T> {
      const p = named(at);
      const body = object as unknown as Stored;
      check(p);
      const key = `${p.namespace}/${p.name}`;
      calls.push(`replace ${key}`);
      const found = objects.get(key);
      if (found === undefined) throw apiError(404, 'not found');
      if (body.metadata.resourceVersion !== found.metadata.resourceVersion)
        throw apiError(409, 'the object has been modified');
      return store(key, body) as T;
    },
    async delete(at: ResourcePath) {
      const p = named(at);
      check(p);
      const key = `${p.namespace}/${p.name}`;
      calls.push(`delete ${key}`);
      if (!objects.delete(key)) throw apiError(404, 'not found');
      return {};
    },
    async list<T>(p: Resource, query: { labelSelector?: string } = {}) {
      check(p);
      calls.push(`list ${query.labelSelector ?? ''}`);
      const [k, v] = (query.labelSelector ?? '').split('=');
      return {
        items: [...objects.values()]
          .filter((o) => k === undefined || k === '' || o.metadata.labels?.[k] === v)
          .map((o) => structuredClone(o) as T),
      };
    },
  };
  return {
    api: api as ReportStore,
    objects,
    calls,
    put: (object) =>
      objects.set(`${object.metadata.namespace}/${object.metadata.name}`, structuredClone(object)),
  };
}
