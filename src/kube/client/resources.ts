// The Kubernetes objects sigward reads and writes, typed with only the fields it uses (the apiserver
// sends more; they pass through untouched as JSON), and the paths they live at.

export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly { kind?: unknown; name?: unknown; controller?: unknown }[];
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMeta;
}

export interface KubeList<T> {
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
  readonly items: readonly T[];
}

export interface Secret extends KubeObject {
  /** base64 values, as the apiserver stores them. */
  readonly data?: Readonly<Record<string, string>>;
}

export interface ServiceAccount extends KubeObject {
  readonly imagePullSecrets?: readonly { readonly name?: string }[];
}

export interface ConfigMap extends KubeObject {
  readonly data?: Readonly<Record<string, string>>;
}

export type Namespace = KubeObject;

/** A Pod as JSON: sigward reads it field by field (kube/running-pods.ts podView, admission/sites). */
export type Pod = KubeObject & Readonly<Record<string, unknown>>;

export interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  /** MicroTime: RFC 3339 with exactly six fractional digits. */
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  readonly spec?: LeaseSpec;
}

/** events.k8s.io/v1 Event, as sigward writes it. */
export interface EventsV1Event {
  readonly apiVersion: 'events.k8s.io/v1';
  readonly kind: 'Event';
  readonly metadata: { readonly name: string; readonly namespace: string };
  /** MicroTime (microTime()). */
  readonly eventTime: string;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly action: string;
  readonly note: string;
  readonly regarding: {
    readonly apiVersion: string;
    readonly kind: string;
    readonly namespace?: string;
    readonly name?: string;
    readonly uid?: string;
  };
  readonly reportingController: string;
  readonly reportingInstance: string;
}

/** Where a resource lives: core (`group` ''), or a group; a namespace, a name and a subresource if any. */
export interface ResourcePath {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

export function resourcePath(r: ResourcePath): string {
  const seg = encodeURIComponent;
  return [
    r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`,
    r.namespace === undefined ? '' : `/namespaces/${seg(r.namespace)}`,
    `/${r.plural}`,
    r.name === undefined ? '' : `/${seg(r.name)}`,
    r.subresource === undefined ? '' : `/${r.subresource}`,
  ].join('');
}

/** Now as the apiserver's MicroTime wants it: exactly six fractional digits (it refuses milliseconds). */
export function microTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export const MERGE_PATCH = 'application/merge-patch+json';
