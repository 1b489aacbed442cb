// What `sigward policy test` judges, each turned into the AdmissionReview the apiserver would send:
//   an image                 → a Pod with that one container (CREATE) in the given namespace
//   a workload manifest      → CREATE of that object (Pod, Deployment, … CronJob; other kinds are
//                              listed as not checked, the webhook never sees them)
//   an AdmissionReview file  → as it is (captured from an apiserver, or written by hand)
// and the test-case file `sigward-test.yaml` (kind PolicyTest) that names policies, inputs and the
// expected decision, reason code and message for each.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SigwardError, withoutExcerpt } from '../errors.ts';
import { nearestName } from '../policy/compile.ts';

/**
 * Every YAML/JSON document of a file, `-` for stdin (empty documents dropped; the items of a `kind: List`,
 * as `kubectl get -o yaml` prints them, each on its own). Throws SigwardError naming the file.
 */
export function readDocuments(path: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new SigwardError('INPUT_UNREADABLE', `${path}: ${(error as Error).message}`);
  }
  const docs: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0)
      throw new SigwardError(
        'INPUT_INVALID',
        `${path}: ${withoutExcerpt(doc.errors[0]?.message ?? 'invalid YAML')}`,
      );
    const value: unknown = doc.toJS();
    if (isObject(value) && value['kind'] === 'List' && Array.isArray(value['items']))
      docs.push(...value['items']);
    else if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

/** Workload kinds the webhook checks: group, version and resource of each. */
const WORKLOADS: Readonly<Record<string, { group: string; resource: string }>> = {
  Pod: { group: '', resource: 'pods' },
  ReplicationController: { group: '', resource: 'replicationcontrollers' },
  Deployment: { group: 'apps', resource: 'deployments' },
  ReplicaSet: { group: 'apps', resource: 'replicasets' },
  StatefulSet: { group: 'apps', resource: 'statefulsets' },
  DaemonSet: { group: 'apps', resource: 'daemonsets' },
  Job: { group: 'batch', resource: 'jobs' },
  CronJob: { group: 'batch', resource: 'cronjobs' },
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One thing to judge, and how the output names it. */
export interface TestInput {
  /** `image ghcr.io/o/app:1`, `Deployment apps/web (deploy.yaml)`, `AdmissionReview review.json`. */
  readonly label: string;
  /** The AdmissionReview to send through the engine; undefined: not a kind the webhook checks. */
  readonly review?: unknown;
  /** Why it is not checked (when review is undefined). */
  readonly note?: string;
}

let sequence = 0;
const uid = (): string => `sigward-policy-test-${++sequence}`;

/** The AdmissionReview of a CREATE of `object` (a workload) in `namespace`. */
export function createReview(object: Json, namespace: string): unknown {
  const kind = String(object['kind']);
  const where = WORKLOADS[kind]!;
  const meta = isObject(object['metadata']) ? object['metadata'] : {};
  const name = typeof meta['name'] === 'string' ? meta['name'] : '';
  const apiVersion = typeof object['apiVersion'] === 'string' ? object['apiVersion'] : 'v1';
  const version = apiVersion.includes('/') ? apiVersion.slice(apiVersion.indexOf('/') + 1) : apiVersion;
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: uid(),
      kind: { group: where.group, version, kind },
      resource: { group: where.group, version, resource: where.resource },
      namespace,
      ...(name === '' ? {} : { name }),
      operation: 'CREATE',
      userInfo: { username: 'sigward-policy-test' },
      object: { ...object, metadata: { ...meta, namespace } },
    },
  };
}

export function imageInput(image: string, namespace: string): TestInput {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'policy-test', namespace },
    spec: { containers: [{ name: 'image', image }] },
  };
  return { label: `image ${image}`, review: createReview(pod, namespace) };
}

/** Every document of a manifest file, or of an AdmissionReview file. */
export function fileInputs(path: string, defaultNamespace: string): TestInput[] {
  return readDocuments(path).flatMap((doc): TestInput[] => {
    if (!isObject(doc)) throw new SigwardError('INPUT_INVALID', `${path}: a document is not an object`);
    if (doc['kind'] === 'AdmissionReview') {
      const request = isObject(doc['request']) ? doc['request'] : {};
      const kind = isObject(request['kind']) ? String(request['kind']['kind']) : '?';
      const name = [request['namespace'], request['name']].filter((v) => typeof v === 'string').join('/');
      return [{ label: `AdmissionReview ${kind} ${name} (${path})`, review: doc }];
    }
    return objectInput(doc, path, defaultNamespace);
  });
}

function objectInput(doc: unknown, path: string, defaultNamespace: string): TestInput[] {
  if (!isObject(doc)) throw new SigwardError('INPUT_INVALID', `${path}: an item is not an object`);
  const kind = typeof doc['kind'] === 'string' ? doc['kind'] : '?';
  const meta = isObject(doc['metadata']) ? doc['metadata'] : {};
  const namespace = typeof meta['namespace'] === 'string' ? meta['namespace'] : defaultNamespace;
  const label = `${kind} ${namespace}/${String(meta['name'] ?? '')} (${path})`;
  if (WORKLOADS[kind] === undefined)
    return [{ label, note: 'not a workload kind sigward checks (the webhook never sees it)' }];
  return [{ label, review: createReview(doc, namespace) }];
}

// ---- sigward-test.yaml ----

export const TEST_API_VERSION = 'cli.sigward.dev/v1alpha1';
export const TEST_KIND = 'PolicyTest';
export const EXPECTED_DECISIONS = ['allow', 'deny', 'warn', 'audit', 'skip'] as const;
export type ExpectedDecision = (typeof EXPECTED_DECISIONS)[number];

export interface Expectation {
  readonly decision: ExpectedDecision;
  /** A reason code one of the results carries (VERIFIED when every result passed). */
  readonly reason?: string;
  /** A substring of the denial, warning or failure text. */
  readonly message?: string;
}

export interface TestCase {
  readonly name: string;
  readonly inputs: readonly TestInput[];
  readonly expect: Expectation;
}

export interface TestSuite {
  readonly file: string;
  readonly name: string;
  /** Resolved against the test file's directory. */
  readonly policies: readonly string[];
  readonly trustedRoot?: string;
  readonly noMatchAction?: 'allow' | 'warn' | 'deny';
  readonly cases: readonly TestCase[];
}

function field<T>(
  o: Json,
  key: string,
  at: string,
  check: (v: unknown) => v is T,
  what: string,
): T | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!check(v)) throw new SigwardError('INPUT_INVALID', `${at}.${key}: must be ${what}`);
  return v;
}
/** Unknown keys are refused with the policy compiler's did-you-mean, so a typo is never silently ignored. */
function refuseUnknownFields(o: Json, known: readonly string[], at: string): void {
  for (const key of Object.keys(o)) {
    if (known.includes(key)) continue;
    const near = nearestName(key, known);
    const hint = near === undefined ? `known fields: ${known.join(', ')}` : `did you mean \`${near}\`?`;
    throw new SigwardError('INPUT_INVALID', `${at}.${key}: unknown field (${hint})`);
  }
}
const isString = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isString);

/** Reads a sigward-test.yaml. Throws INPUT_INVALID naming the field for anything malformed (exit 2). */
export function readTestSuite(path: string): TestSuite {
  const docs = readDocuments(path);
  const doc = docs[0];
  if (docs.length !== 1 || !isObject(doc))
    throw new SigwardError('INPUT_INVALID', `${path}: expected one ${TEST_KIND} document`);
  if (doc['apiVersion'] !== TEST_API_VERSION || doc['kind'] !== TEST_KIND)
    throw new SigwardError(
      'INPUT_INVALID',
      `${path}: apiVersion must be ${TEST_API_VERSION} and kind ${TEST_KIND}`,
    );
  refuseUnknownFields(
    doc,
    ['apiVersion', 'kind', 'metadata', 'policies', 'trustedRoot', 'namespace', 'noMatchAction', 'tests'],
    path,
  );
  const dir = dirname(resolve(path));
  const meta = isObject(doc['metadata']) ? doc['metadata'] : {};
  const policies = field(doc, 'policies', path, isStrings, 'a list of policy files or directories');
  if (policies === undefined) throw new SigwardError('INPUT_INVALID', `${path}: policies: required`);
  const trustedRoot = field(doc, 'trustedRoot', path, isString, 'a file name');
  const namespace = field(doc, 'namespace', path, isString, 'a namespace') ?? 'default';
  const noMatch = field(doc, 'noMatchAction', path, isString, 'allow, warn or deny');
  if (noMatch !== undefined && !['allow', 'warn', 'deny'].includes(noMatch))
    throw new SigwardError('INPUT_INVALID', `${path}: noMatchAction: must be allow, warn or deny`);
  const tests = doc['tests'];
  if (!Array.isArray(tests) || tests.length === 0)
    throw new SigwardError('INPUT_INVALID', `${path}: tests: must be a non-empty list`);
  const cases = tests.map((raw: unknown, i): TestCase => {
    const at = `${path}: tests[${i}]`;
    if (!isObject(raw)) throw new SigwardError('INPUT_INVALID', `${at}: must be an object`);
    refuseUnknownFields(raw, ['name', 'image', 'resource', 'review', 'namespace', 'expect'], at);
    const ns = field(raw, 'namespace', at, isString, 'a namespace') ?? namespace;
    const image = field(raw, 'image', at, isString, 'an image reference');
    const resource = field(raw, 'resource', at, isString, 'a manifest file');
    const review = field(raw, 'review', at, isString, 'an AdmissionReview file');
    const given = [image, resource, review].filter((v) => v !== undefined);
    if (given.length !== 1)
      throw new SigwardError('INPUT_INVALID', `${at}: set exactly one of image, resource or review`);
    const inputs =
      image !== undefined ? [imageInput(image, ns)] : fileInputs(resolve(dir, (resource ?? review)!), ns);
    const e = raw['expect'];
    if (!isObject(e))
      throw new SigwardError(
        'INPUT_INVALID',
        `${at}.expect: required (decision, and optionally reason and message)`,
      );
    const decision = e['decision'];
    if (typeof decision !== 'string' || !(EXPECTED_DECISIONS as readonly string[]).includes(decision))
      throw new SigwardError(
        'INPUT_INVALID',
        `${at}.expect.decision: must be one of ${EXPECTED_DECISIONS.join(', ')}`,
      );
    const reason = field(e, 'reason', `${at}.expect`, isString, 'a reason code');
    const message = field(e, 'message', `${at}.expect`, isString, 'a text');
    const name = field(raw, 'name', at, isString, 'a text') ?? inputs[0]?.label ?? `tests[${i}]`;
    return {
      name,
      inputs,
      expect: {
        decision: decision as ExpectedDecision,
        ...(reason === undefined ? {} : { reason }),
        ...(message === undefined ? {} : { message }),
      },
    };
  });
  return {
    file: path,
    name: typeof meta['name'] === 'string' ? meta['name'] : path,
    policies: policies.map((p) => resolve(dir, p)),
    ...(trustedRoot === undefined ? {} : { trustedRoot: resolve(dir, trustedRoot) }),
    ...(noMatch === undefined ? {} : { noMatchAction: noMatch as 'allow' | 'warn' | 'deny' }),
    cases,
  };
}
