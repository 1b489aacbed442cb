// The mutating webhook's JSON patch (RFC 6902): pin each image tag to the digest that was verified,
// `repo:tag@sha256:…`, keeping the tag so people and dashboards still see it. Pure.
//
//   pinnedImage(image, digest)          → `image@digest`, or undefined when already pinned / unreadable
//   digestPatch(pins, options)          → JsonPatchOperation[] (a `test` then a `replace` per site)
//   patchResponse(uid, operations)      → allowed AdmissionResponse carrying the base64 patch
//
// Pods only by default: rewriting a Deployment's or CronJob's template fights GitOps tools (Argo CD
// loops, ReplicaSet churn, immutable Jobs); `templates: true` opts in. An image already pinned is never
// touched, and `exempt` leaves alone images a controller injects (service-mesh sidecars by tag).
import { SigwardError } from '../errors.ts';
import { isDigest, parseReference } from '../oci/reference.ts';
import type { AdmissionResponse } from './review.ts';
import { jsonPointer } from './sites.ts';
import type { ImageSite } from './sites.ts';

export type JsonPatchOperation =
  | { readonly op: 'test'; readonly path: string; readonly value: string }
  | { readonly op: 'replace'; readonly path: string; readonly value: string };

/** A site and the digest its tag resolved to (and was verified at). */
export type Pin = Pick<ImageSite, 'field' | 'image' | 'template'> & { readonly digest: string };

export interface PatchOptions {
  /** Also pin images in workload templates (Deployments, CronJobs, …). Default false. */
  readonly templates?: boolean;
  /** Images to leave as written. */
  readonly exempt?: (image: string) => boolean;
}

/** `nginx:1.27` + digest → `nginx:1.27@sha256:…`; undefined if already pinned or not a reference. */
export function pinnedImage(image: string, digest: string): string | undefined {
  if (!isDigest(digest))
    throw new SigwardError('ADMISSION_DIGEST_INVALID', `not a digest: ${digest.slice(0, 100)}`);
  if (image.includes('@')) return undefined;
  try {
    parseReference(image);
  } catch {
    return undefined;
  }
  return `${image}@${digest}`;
}

export function digestPatch(pins: readonly Pin[], options: PatchOptions = {}): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  for (const pin of pins) {
    if (pin.template && options.templates !== true) continue;
    if (options.exempt?.(pin.image) === true) continue;
    const value = pinnedImage(pin.image, pin.digest);
    if (value === undefined) continue;
    const path = jsonPointer(pin.field);
    // The test makes the API server refuse the patch if the field is not what was verified.
    ops.push({ op: 'test', path, value: pin.image }, { op: 'replace', path, value });
  }
  return ops;
}

export function patchResponse(uid: string, operations: readonly JsonPatchOperation[]): AdmissionResponse {
  if (operations.length === 0) return { uid, allowed: true };
  return {
    uid,
    allowed: true,
    patchType: 'JSONPatch',
    patch: Buffer.from(JSON.stringify(operations)).toString('base64'),
  };
}
