// AdmissionReview v1 (admission.k8s.io/v1): the types of what kube-apiserver sends and what it wants
// back, and a strict validator for the incoming body. Pure.
//
//   parseAdmissionReview(body)  → AdmissionReview, or throws SigwardError ADMISSION_REVIEW_INVALID
//                                  with the field path and what was wrong (never a crash on garbage)
//   reviewResponse(response)    → the AdmissionReview envelope to send back
//   ReplyTemplate               → the same envelope for a response given once, and its JSON, with only
//                                  the uid put in per review
//
// The body itself (size, JSON) is the server's job; this checks the shape of what JSON.parse gave.
// `object` / `oldObject` are only checked to be objects with bounded metadata here; sites.ts reads the
// pod spec defensively.
import { SigwardError } from '../errors.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const REVIEW_INVALID = 'ADMISSION_REVIEW_INVALID';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}
export interface GroupVersionResource {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

export interface UserInfo {
  readonly username?: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
}

/** A Kubernetes object as admitted: only metadata is typed; the rest is read by sites.ts. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly generateName?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [key: string]: unknown;
}

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: GroupVersionKind;
  readonly resource: GroupVersionResource;
  readonly subResource?: string;
  readonly requestKind?: GroupVersionKind;
  readonly requestResource?: GroupVersionResource;
  readonly requestSubResource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly operation: Operation;
  readonly userInfo: UserInfo;
  readonly object?: KubeObject;
  readonly oldObject?: KubeObject;
  readonly dryRun?: boolean;
  readonly options?: unknown;
}

export interface AdmissionReview {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly request: AdmissionRequest;
}

export interface Status {
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly status?: Status;
  /** Base64 of a JSON patch (RFC 6902), mutating webhook only. */
  readonly patch?: string;
  readonly patchType?: 'JSONPatch';
  readonly warnings?: readonly string[];
  readonly auditAnnotations?: Readonly<Record<string, string>>;
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

const MAX_NAME = 253;
const MAX_UID = 128;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(field: string, message: string): SigwardError {
  return new SigwardError(REVIEW_INVALID, `malformed AdmissionReview: ${field}: ${message}`, {
    details: { field },
  });
}

function str(o: Json, key: string, field: string, max: number, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined || (v === '' && !required)) {
    if (required) throw invalid(field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(field, `must be a string, got ${v === null ? 'null' : typeof v}`);
  if (required && v.length === 0) throw invalid(field, 'must not be empty');
  if (v.length > max) throw invalid(field, `is longer than ${max} characters`);
  return v;
}

function gvk(v: unknown, field: string): GroupVersionKind {
  if (!isObject(v)) throw invalid(field, 'must be an object');
  return {
    group: str(v, 'group', `${field}.group`, MAX_NAME, false) ?? '',
    version: str(v, 'version', `${field}.version`, 64, true) ?? '',
    kind: str(v, 'kind', `${field}.kind`, MAX_NAME, true) ?? '',
  };
}

function gvr(v: unknown, field: string): GroupVersionResource {
  if (!isObject(v)) throw invalid(field, 'must be an object');
  return {
    group: str(v, 'group', `${field}.group`, MAX_NAME, false) ?? '',
    version: str(v, 'version', `${field}.version`, 64, true) ?? '',
    resource: str(v, 'resource', `${field}.resource`, MAX_NAME, true) ?? '',
  };
}

/** Labels or annotations: absent, or an object of strings (read in place: every review has them). */
function stringMap(m: unknown, field: string, key: string): void {
  if (m === undefined || m === null) return;
  if (!isObject(m)) throw invalid(`${field}.metadata.${key}`, 'must be an object');
  for (const k in m)
    if (Object.hasOwn(m, k) && typeof m[k] !== 'string')
      throw invalid(`${field}.metadata.${key}["${k.slice(0, 63)}"]`, 'must be a string');
}

function kubeObject(v: unknown, field: string): KubeObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalid(field, 'must be an object');
  const meta = v['metadata'];
  if (meta !== undefined && meta !== null) {
    if (!isObject(meta)) throw invalid(`${field}.metadata`, 'must be an object');
    stringMap(meta['labels'], field, 'labels');
    stringMap(meta['annotations'], field, 'annotations');
  }
  return v as KubeObject;
}

/** Validates a parsed request body. Throws SigwardError ADMISSION_REVIEW_INVALID naming the field. */
export function parseAdmissionReview(body: unknown): AdmissionReview {
  if (!isObject(body)) throw invalid('body', 'must be a JSON object');
  if (body['apiVersion'] !== ADMISSION_API_VERSION)
    throw invalid(
      'apiVersion',
      `must be ${ADMISSION_API_VERSION} (the webhook registers admissionReviewVersions: [v1])`,
    );
  if (body['kind'] !== 'AdmissionReview') throw invalid('kind', 'must be AdmissionReview');
  const r = body['request'];
  if (!isObject(r)) throw invalid('request', 'must be an object');
  const uid = str(r, 'uid', 'request.uid', MAX_UID, true) ?? '';
  const operation = r['operation'];
  if (typeof operation !== 'string' || !(OPERATIONS as readonly string[]).includes(operation))
    throw invalid('request.operation', `must be one of ${OPERATIONS.join(', ')}`);
  const userInfo = r['userInfo'] ?? {};
  if (!isObject(userInfo)) throw invalid('request.userInfo', 'must be an object');
  // Logged and clipped as text (the apiserver always sends a string): anything else is refused here.
  const username = userInfo['username'];
  if (username !== undefined && typeof username !== 'string')
    throw invalid(
      'request.userInfo.username',
      `must be a string, got ${username === null ? 'null' : Array.isArray(username) ? 'a list' : typeof username}`,
    );
  const dryRun = r['dryRun'];
  if (dryRun !== undefined && dryRun !== null && typeof dryRun !== 'boolean')
    throw invalid('request.dryRun', 'must be a boolean');
  const subResource = str(r, 'subResource', 'request.subResource', 64, false);
  const requestSubResource = str(r, 'requestSubResource', 'request.requestSubResource', 64, false);
  const name = str(r, 'name', 'request.name', MAX_NAME, false);
  const namespace = str(r, 'namespace', 'request.namespace', 63, false);
  const object = kubeObject(r['object'], 'request.object');
  const oldObject = kubeObject(r['oldObject'], 'request.oldObject');
  if ((operation === 'CREATE' || operation === 'UPDATE') && object === undefined)
    throw invalid('request.object', `is required for ${operation}`);
  if (operation === 'UPDATE' && oldObject === undefined)
    throw invalid('request.oldObject', 'is required for UPDATE');
  // Built field by field (this runs on every review, cached answers included).
  const request: { -readonly [K in keyof AdmissionRequest]: AdmissionRequest[K] } = {
    uid,
    kind: gvk(r['kind'], 'request.kind'),
    resource: gvr(r['resource'], 'request.resource'),
    operation: operation as Operation,
    userInfo: userInfo as UserInfo,
  };
  if (subResource !== undefined) request.subResource = subResource;
  if (r['requestKind'] !== undefined) request.requestKind = gvk(r['requestKind'], 'request.requestKind');
  if (r['requestResource'] !== undefined)
    request.requestResource = gvr(r['requestResource'], 'request.requestResource');
  if (requestSubResource !== undefined) request.requestSubResource = requestSubResource;
  if (name !== undefined) request.name = name;
  if (namespace !== undefined) request.namespace = namespace;
  if (object !== undefined) request.object = object;
  if (oldObject !== undefined) request.oldObject = oldObject;
  if (dryRun === true) request.dryRun = true;
  if (r['options'] !== undefined) request.options = r['options'];
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', request };
}

/** Reads the uid of a body that failed validation, so the reply can still name it (or ''). */
export function uidOf(body: unknown): string {
  if (!isObject(body) || !isObject(body['request'])) return '';
  const uid = body['request']['uid'];
  return typeof uid === 'string' && uid.length <= MAX_UID ? uid : '';
}

export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

/** `{"apiVersion":…,"kind":"AdmissionReview","response":{"uid":` — what every reply's JSON starts with. */
const REPLY_JSON_HEAD = `{"apiVersion":${JSON.stringify(ADMISSION_API_VERSION)},"kind":"AdmissionReview","response":{"uid":`;

/**
 * The reply to any review whose answer is `response` but for its uid: the envelope's fields and its
 * JSON are made once, and a review's reply puts in its uid. The JSON is byte for byte
 * `JSON.stringify(review(uid))` (the uid is the response's first field, escaped by JSON.stringify): a
 * cached answer is sent without serializing the reply again.
 */
export class ReplyTemplate {
  /** The response's fields after its uid, in their order. */
  readonly #rest: Omit<AdmissionResponse, 'uid'>;
  /** The JSON after the uid's. */
  readonly #tail: string;
  /** The rest is exactly `allowed` then `auditAnnotations`. */
  readonly #plainAllow: boolean;

  constructor(response: AdmissionResponse) {
    const { uid: _uid, ...rest } = response;
    // Handed to every review it answers: frozen, so no reader of one reply changes the next.
    this.#rest = deepFreeze(rest);
    this.#plainAllow = Object.keys(rest).join() === 'allowed,auditAnnotations';
    const text = JSON.stringify(reviewResponse({ uid: '', ...rest }));
    if (!text.startsWith(`${REPLY_JSON_HEAD}""`))
      throw new Error(`unexpected reply JSON: ${text.slice(0, 120)}`);
    this.#tail = text.slice(REPLY_JSON_HEAD.length + 2);
  }

  /** Whether the answer admits the object. */
  get allowed(): boolean {
    return this.#rest.allowed;
  }

  /** The response for the review `uid`. */
  response(uid: string): AdmissionResponse {
    const rest = this.#rest;
    // An allow with its decision annotation (most answers): written out, in the same field order,
    // rather than spread (a call into the runtime per review).
    if (this.#plainAllow) return { uid, allowed: rest.allowed, auditAnnotations: rest.auditAnnotations };
    return { uid, ...rest };
  }

  /** `JSON.stringify(reviewResponse(this.response(uid)))`, without serializing the rest again. */
  json(uid: string): string {
    return `${REPLY_JSON_HEAD}${jsonString(uid)}${this.#tail}`;
  }
}

/** `value` and every object in it, frozen (once per template, not per review). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Text JSON.stringify writes as it is between its quotes: no quote, backslash, control or surrogate. */
// eslint-disable-next-line no-control-regex
const PLAIN_JSON_TEXT = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** JSON.stringify(text): a uid (a UUID from the apiserver) needs no escaping, and is quoted as it is. */
export function jsonString(text: string): string {
  return PLAIN_JSON_TEXT.test(text) ? `"${text}"` : JSON.stringify(text);
}
