// Every place an image is named in an admitted object, with its field path. Pure.
//
//   podSpecPath(resource, subResource)  → ['spec', 'template', 'spec'] etc., or undefined if not handled
//   imageSites(request, object)         → ImageSite[] (throws SigwardError ADMISSION_OBJECT_INVALID /
//                                          ADMISSION_TOO_MANY_IMAGES on hostile shapes and sizes)
//   podSpecSites(request, object)       → the same sites and the pod spec they were read from
//   changedSites(sites, oldSites)       → the sites whose image is new or different at that field
//   jsonPointer(field)                  → `/spec/containers/0/image` for a field path
//
// Handled: Pods (containers, initContainers, ephemeralContainers, image volumes
// `spec.volumes[].image.reference`, and the `ephemeralcontainers` subresource), Deployments,
// ReplicaSets, StatefulSets, DaemonSets, Jobs, ReplicationControllers (`spec.template.spec…`) and
// CronJobs (`spec.jobTemplate.spec.template.spec…`).
import { SigwardError } from '../errors.ts';
import type { GroupVersionResource } from './review.ts';

export const OBJECT_INVALID = 'ADMISSION_OBJECT_INVALID';
export const TOO_MANY_IMAGES = 'ADMISSION_TOO_MANY_IMAGES';
/** More image sites than any real pod has; a bigger object is refused with a clear error. */
export const MAX_IMAGE_SITES = 256;
const MAX_IMAGE_LENGTH = 4096;

export type SiteKind = 'container' | 'initContainer' | 'ephemeralContainer' | 'imageVolume';

export interface ImageSite {
  /** `spec.template.spec.initContainers[1].image` */
  readonly field: string;
  /** The image exactly as written. */
  readonly image: string;
  readonly kind: SiteKind;
  /** Container or volume name, when it has one. */
  readonly name?: string;
  /** In a workload's pod template (not a Pod itself). */
  readonly template: boolean;
}

const TEMPLATE = ['spec', 'template', 'spec'] as const;
const WORKLOADS: Readonly<Record<string, readonly string[]>> = {
  '/pods': ['spec'],
  '/replicationcontrollers': TEMPLATE,
  'apps/deployments': TEMPLATE,
  'apps/replicasets': TEMPLATE,
  'apps/statefulsets': TEMPLATE,
  'apps/daemonsets': TEMPLATE,
  'batch/jobs': TEMPLATE,
  'batch/cronjobs': ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

/** The resources the webhook handles, as `group/resource` (core group empty). */
export const HANDLED_RESOURCES: readonly string[] = Object.keys(WORKLOADS);

/** The kinds of those resources, as the apiserver names them in `request.kind.kind`. */
export const HANDLED_KINDS: ReadonlySet<string> = new Set([
  'Pod',
  'ReplicationController',
  'Deployment',
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
]);

/** A pod spec's place in a handled resource, with its field names made once (this runs per review). */
interface SpecPlace {
  readonly path: readonly string[];
  /** `spec.template.spec` */
  readonly prefix: string;
  /** `${prefix}.containers[3].image`, per container list, made when first needed. */
  readonly imageFields: Readonly<Record<string, string[]>>;
}

/** WORKLOADS by group, then resource: looked up without building a `group/resource` string. */
const SPEC_PLACES = new Map<string, Map<string, SpecPlace>>();
for (const [key, path] of Object.entries(WORKLOADS)) {
  const [group, resource] = key.split('/') as [string, string];
  const place: SpecPlace = {
    path,
    prefix: path.join('.'),
    imageFields: { initContainers: [], containers: [], ephemeralContainers: [] },
  };
  SPEC_PLACES.set(group, (SPEC_PLACES.get(group) ?? new Map<string, SpecPlace>()).set(resource, place));
}

/** The last resource's place: reviews come resource after resource of the same few kinds. */
let lastGroup = '';
let lastResource = '';
let lastPlace: SpecPlace | undefined;

function specPlace(resource: GroupVersionResource, subResource?: string): SpecPlace | undefined {
  let place: SpecPlace | undefined;
  if (resource.resource === lastResource && resource.group === lastGroup) place = lastPlace;
  else {
    place = SPEC_PLACES.get(resource.group)?.get(resource.resource);
    lastGroup = resource.group;
    lastResource = resource.resource;
    lastPlace = place;
  }
  if (place === undefined) return undefined;
  if (subResource !== undefined && subResource !== '') {
    // Only new ephemeral containers bring images through a subresource; status, scale, binding… do not.
    return resource.group === '' && resource.resource === 'pods' && subResource === 'ephemeralcontainers'
      ? place
      : undefined;
  }
  return place;
}

/** Where the pod spec is, or undefined for a resource (or subresource) sigward does not check. */
export function podSpecPath(
  resource: GroupVersionResource,
  subResource?: string,
): readonly string[] | undefined {
  return specPlace(resource, subResource)?.path;
}

/** `spec.containers[3].image`: remembered per list and index (the first MAX_IMAGE_SITES of each). */
function imageField(place: SpecPlace, key: string, index: number): string {
  if (index >= MAX_IMAGE_SITES) return `${place.prefix}.${key}[${index}].image`;
  const known = place.imageFields[key]!;
  return (known[index] ??= `${place.prefix}.${key}[${index}].image`);
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(field: string, message: string): SigwardError {
  return new SigwardError(OBJECT_INVALID, `${field}: ${message}`, { details: { field } });
}

const NONE: readonly unknown[] = Object.freeze([]);

function list(v: unknown, key: string, prefix: string): readonly unknown[] {
  if (v === undefined || v === null) return NONE;
  if (!Array.isArray(v)) throw invalid(`${prefix}.${key}`, 'must be a list');
  return v;
}

function imageOf(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined; // the API server's validation refuses these
  if (typeof v !== 'string')
    throw invalid(field, `must be a string, got ${Array.isArray(v) ? 'a list' : typeof v}`);
  if (v.length > MAX_IMAGE_LENGTH) throw invalid(field, `is longer than ${MAX_IMAGE_LENGTH} characters`);
  return v;
}

const nameOf = (o: Json): string | undefined =>
  typeof o['name'] === 'string' ? o['name'].slice(0, 253) : undefined;

/** The image sites of one container list (`key`: its field name in the pod spec), appended to `sites`. */
function containerSites(
  sites: ImageSite[],
  place: SpecPlace,
  entries: readonly unknown[],
  key: string,
  kind: SiteKind,
  template: boolean,
): void {
  for (let i = 0; i < entries.length; i++) {
    const c = entries[i];
    if (!isObject(c)) throw invalid(`${place.prefix}.${key}[${i}]`, 'must be an object');
    const field = imageField(place, key, i);
    const image = imageOf(c['image'], field);
    if (image === undefined) continue;
    const name = nameOf(c);
    sites.push(
      name === undefined ? { field, image, kind, template } : { field, image, kind, name, template },
    );
  }
}

/** Image sites of an object of a handled resource, in manifest order. */
export function imageSites(
  request: { readonly resource: GroupVersionResource; readonly subResource?: string },
  object: unknown,
  options: { readonly maxSites?: number } = {},
): ImageSite[] {
  return podSpecSites(request, object, options)?.sites ?? [];
}

/** The pod spec of an object (undefined when it has none) and its image sites, in manifest order. */
export interface PodSpecSites {
  readonly spec: Readonly<Record<string, unknown>> | undefined;
  readonly sites: ImageSite[];
}

/**
 * imageSites, with the pod spec they were read from; undefined for a resource (or subresource) sigward
 * does not check. Throws as imageSites does.
 */
export function podSpecSites(
  request: { readonly resource: GroupVersionResource; readonly subResource?: string },
  object: unknown,
  options: { readonly maxSites?: number } = {},
): PodSpecSites | undefined {
  const place = specPlace(request.resource, request.subResource);
  if (place === undefined) return undefined;
  const { path, prefix } = place;
  const max = options.maxSites ?? MAX_IMAGE_SITES;
  let spec: unknown = object;
  for (let depth = 0; depth < path.length; depth++) {
    if (!isObject(spec)) throw invalid(path.slice(0, depth).join('.') || 'object', 'must be an object');
    spec = spec[path[depth]!];
    if (spec === undefined || spec === null) return { spec: undefined, sites: [] };
  }
  if (!isObject(spec)) throw invalid(prefix, 'must be an object');
  const template = path.length > 1;
  // Read by name (one load each, not a keyed load per list), then counted before anything is read:
  // 10,000 containers cost one comparison, not 10,000 parses.
  const init = list(spec['initContainers'], 'initContainers', prefix);
  const containers = list(spec['containers'], 'containers', prefix);
  const ephemeral = list(spec['ephemeralContainers'], 'ephemeralContainers', prefix);
  const total = init.length + containers.length + ephemeral.length;
  const volumes = list(spec['volumes'], 'volumes', prefix);
  if (total > max)
    throw new SigwardError(
      TOO_MANY_IMAGES,
      `${prefix}: ${total} containers, more than the ${max} sigward checks`,
    );
  const sites: ImageSite[] = [];
  containerSites(sites, place, init, 'initContainers', 'initContainer', template);
  containerSites(sites, place, containers, 'containers', 'container', template);
  containerSites(sites, place, ephemeral, 'ephemeralContainers', 'ephemeralContainer', template);
  let imageVolumes = 0;
  for (let i = 0; i < volumes.length; i++) {
    const v = volumes[i];
    if (!isObject(v)) throw invalid(`${prefix}.volumes[${i}]`, 'must be an object');
    const source = v['image'];
    // Most volumes (every Pod's service account token, config maps, secrets) name no image.
    if (source === undefined || source === null) continue;
    const field = `${prefix}.volumes[${i}]`;
    if (!isObject(source)) throw invalid(`${field}.image`, 'must be an object');
    if (++imageVolumes + total > max)
      throw new SigwardError(TOO_MANY_IMAGES, `${prefix}: more than the ${max} images sigward checks`);
    const image = imageOf(source['reference'], `${field}.image.reference`);
    const name = nameOf(v);
    if (image !== undefined)
      sites.push({
        field: `${field}.image.reference`,
        image,
        kind: 'imageVolume',
        ...(name === undefined ? {} : { name }),
        template,
      });
  }
  return { spec, sites };
}

/** Sites whose image is new or differs from the old object's image at the same field. */
export function changedSites(sites: readonly ImageSite[], oldSites: readonly ImageSite[]): ImageSite[] {
  const old = new Map(oldSites.map((s) => [s.field, s.image]));
  return sites.filter((s) => old.get(s.field) !== s.image);
}

/** RFC 6901 pointer for a field path: `spec.containers[0].image` → `/spec/containers/0/image`. */
export function jsonPointer(field: string): string {
  return `/${field
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1'))
    .join('/')}`;
}
