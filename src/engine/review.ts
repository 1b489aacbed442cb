// One AdmissionReview, start to finish — the only place that knows the order of the steps:
//   validate the body → skip rules → image sites → pull credentials → decide every site under one
//   deadline (decide.ts) → AdmissionResponse (validate: allow / deny / warnings; mutate: the digest
//   pinning patch) → findings (denied, warned, audited workloads: logs and Events).
// Anything unexpected becomes a denial naming the error (admission/respond errorResponse): no path
// turns an internal failure into an allow.
import { SigwardError } from '../errors.ts';
import { digestPatch, patchResponse } from '../admission/patch.ts';
import type { PatchOptions, Pin } from '../admission/patch.ts';
import { decisionResponse, errorResponse, skipResponse } from '../admission/respond.ts';
import { ReplyTemplate, parseAdmissionReview, reviewResponse, uidOf } from '../admission/review.ts';
import type { AdmissionRequest, AdmissionResponse, UserInfo } from '../admission/review.ts';
import { HANDLED_KINDS, podSpecPath } from '../admission/sites.ts';
import type { ImageSite } from '../admission/sites.ts';
import { planReview } from '../admission/skip.ts';
import type { SkipSettings } from '../admission/skip.ts';
import { ERROR_REASONS, clip, reasonText } from '../policy/decision.ts';
import type { PolicyResult } from '../policy/decision.ts';
import type { Decider, SiteDecision } from './decide.ts';
import type { EngineObserver, PolicySnapshotSource, WorkloadIdentity } from './ports.ts';
import { sameItems } from './same-items.ts';

export type ReviewRoute = 'validate' | 'mutate';

/** Structurally server/'s HandledReview. */
export type ReviewResult =
  | {
      readonly ok: true;
      readonly review: object;
      readonly decision: string;
      readonly kind: string;
      readonly operation: string;
      readonly summary?: string;
      readonly object?: string;
      readonly uid?: string;
      readonly user?: string;
      readonly reasons?: readonly string[];
      /** The decisions behind the answer (tests, logs). */
      readonly decisions?: readonly SiteDecision[];
      /** `review` serialized, when a template made it (sent as is: JSON.stringify(review) byte for byte). */
      readonly json?: string;
    }
  | { readonly ok: false; readonly message: string };

export interface ReviewEngineDeps {
  readonly decider: Decider;
  readonly policies: PolicySnapshotSource;
  readonly skip: SkipSettings;
  /** Labels of a namespace when known (opt-in / opt-out labels). */
  readonly namespaceLabels?: (namespace: string) => Readonly<Record<string, string>> | undefined;
  readonly patch?: PatchOptions;
  readonly observer?: EngineObserver;
}

/**
 * What a validating answer is, for a list of decisions: everything but the review's uid and who asked.
 * Made once per list of decision objects (decide.ts hands out the same decision while the caches say
 * the same) and read by every review answered with them.
 */
interface ValidateAnswer {
  /** The decisions it was made for (compared by identity). */
  readonly decisions: readonly SiteDecision[];
  readonly reply: ReplyTemplate;
  /** The metric's decision label. */
  readonly label: string;
  readonly summary: string | undefined;
  readonly reasons: readonly string[] | undefined;
  /** Whether a failed result makes a finding (deny, warn, audit). */
  readonly finding: boolean;
  /** The reason of each enforced error result an allow let through, counted per review (fail open). */
  readonly failOpen: readonly string[];
}

export class ReviewEngine {
  readonly #deps: ReviewEngineDeps;
  /** Validating answers by their first decision (`#validateAnswer`); gone with the decisions. */
  readonly #answers = new WeakMap<SiteDecision, ValidateAnswer>();
  /** The last user name clipped for the log, and its clip (the same few callers ask again and again). */
  #lastUser = '';
  #lastUserClipped = '';

  constructor(deps: ReviewEngineDeps) {
    this.#deps = deps;
  }

  /** The answer as a promise (the CLI's policy test, tests). */
  readonly handle = (body: unknown, route: ReviewRoute): Promise<ReviewResult> => {
    const answer = this.#handle(body, route);
    return answer instanceof Promise ? answer : Promise.resolve(answer);
  };

  /** The server's ReviewHandler: the answer itself when the caches decide every image, else a promise. */
  readonly handleNow = (body: unknown, route: ReviewRoute): ReviewResult | Promise<ReviewResult> =>
    this.#handle(body, route);

  /**
   * The answer, at once when the caches decide every image (no await on the cache-hit path: each one
   * cost a suspended frame and a promise per review), else a promise of it.
   */
  #handle(body: unknown, route: ReviewRoute): ReviewResult | Promise<ReviewResult> {
    let request: AdmissionRequest;
    try {
      request = parseAdmissionReview(body).request;
    } catch (error) {
      if (error instanceof SigwardError && uidOf(body) === '') return { ok: false, message: error.message };
      // A review we can name: answer it (denied, 400 inside the review) so the apiserver shows why.
      const uid = uidOf(body);
      const request = isObject(body) && isObject(body['request']) ? body['request'] : {};
      const object = objectName(request['namespace'], request['name']);
      return this.#result(errorResponse(uid, error), 'invalid', {
        uid,
        kind: 'unknown',
        operation: 'unknown',
        ...(object === undefined ? {} : { object }),
      });
    }
    try {
      return this.#review(request, route);
    } catch (error) {
      return this.#failed(request, error);
    }
  }

  /** A request whose object cannot be read (status 400) is invalid; anything else is sigward's failure. */
  #failed(request: AnsweredRequest, error: unknown): ReviewResult {
    const response = errorResponse(request.uid, error);
    return this.#result(response, response.status?.code === 400 ? 'invalid' : 'error-deny', asked(request));
  }

  #review(request: AdmissionRequest, route: ReviewRoute): ReviewResult | Promise<ReviewResult> {
    const namespace = request.namespace ?? request.object?.metadata?.namespace ?? '';
    const labels = namespace === '' ? undefined : this.#deps.namespaceLabels?.(namespace);
    const plan = planReview(request, this.#deps.skip, labels);
    if (plan.skip !== undefined)
      return this.#result(skipResponse(request.uid, plan.skip), 'skip', asked(request));
    const snapshot = this.#deps.policies.current();
    if (snapshot === undefined)
      throw new SigwardError('POLICIES_NOT_LOADED', 'the image policies are not loaded yet; retry shortly');
    const decided = this.#deps.decider.decide(plan.sites, workloadIn(plan.spec, namespace), snapshot);
    if (Array.isArray(decided))
      return this.#answer(request, route, plan.sites, plan.dryRun, namespace, decided);
    return this.#answerLater(decided, answeredPart(request), route, plan.sites, plan.dryRun, namespace);
  }

  /**
   * The answer once the registry has been asked, keeping meanwhile only what it reads of the request.
   * A method of its own: V8 gives all closures of a function one context, so a closure made in
   * #review would keep `request` (the object under review and its old version, a real Pod's several
   * KiB of parsed JSON) and `plan` (its pod spec) alive through the round trips, and under concurrency
   * a scavenge promotes them (docs/performance.md "Twelfth session").
   */
  #answerLater(
    decided: Promise<readonly SiteDecision[]>,
    request: AnsweredRequest,
    route: ReviewRoute,
    sites: readonly ImageSite[],
    dryRun: boolean,
    namespace: string,
  ): Promise<ReviewResult> {
    return decided
      .then((decisions) => this.#answer(request, route, sites, dryRun, namespace, decisions))
      .catch((error) => this.#failed(request, error));
  }

  #answer(
    request: AnsweredRequest,
    route: ReviewRoute,
    sites: readonly ImageSite[],
    dryRun: boolean,
    namespace: string,
    decisions: readonly SiteDecision[],
  ): ReviewResult {
    if (route === 'mutate') {
      const pins: Pin[] = [];
      for (const d of decisions) {
        const site = sites.find((s) => s.field === d.field);
        if (site !== undefined && d.digest !== undefined && d.results.every((r) => r.passed))
          pins.push({ field: site.field, image: site.image, template: site.template, digest: d.digest });
      }
      const response = patchResponse(request.uid, digestPatch(pins, this.#deps.patch));
      return this.#result(
        response,
        response.patch === undefined ? 'allow' : 'pin',
        asked(request),
        decisions,
      );
    }
    const answer = this.#validateAnswer(decisions);
    if (!dryRun && answer.finding) this.#report(request, namespace, decisions);
    // Counted once per admission (on the validating call, not again on the mutating one).
    for (const reason of answer.failOpen) this.#deps.observer?.failOpen?.(reason);
    // Built here field by field, in #resultOf's order and with asked()'s values: every review comes here.
    const uid = request.uid;
    const kind = request.kind.kind;
    const result: Mutable<Extract<ReviewResult, { ok: true }>> = {
      ok: true,
      review: reviewResponse(answer.reply.response(uid)),
      decision: answer.label,
      kind: HANDLED_KINDS.has(kind) ? kind : 'other',
      operation: request.operation,
    };
    if (uid !== '') result.uid = uid;
    const user = request.userInfo.username;
    if (user !== undefined && user !== '') result.user = this.#clippedUser(user);
    if (answer.reasons !== undefined) result.reasons = answer.reasons;
    if (answer.summary !== undefined) result.summary = answer.summary;
    const object = objectName(request.namespace, request.name);
    if (object !== undefined) result.object = object;
    result.decisions = decisions;
    result.json = answer.reply.json(uid);
    return result;
  }

  /** The validating answer for these decisions: the one made for the same decision objects, or a new one. */
  #validateAnswer(decisions: readonly SiteDecision[]): ValidateAnswer {
    const first = decisions[0];
    const known = first === undefined ? undefined : this.#answers.get(first);
    if (known !== undefined && sameItems(known.decisions, decisions)) return known;
    const response = decisionResponse('', decisions);
    const failOpen: string[] = [];
    if (response.allowed)
      for (const d of decisions)
        for (const r of d.results)
          if (!r.passed && ERROR_REASONS.has(r.reason) && r.mode === 'enforce') failOpen.push(r.reason);
    const answer: ValidateAnswer = {
      decisions: decisions.slice(),
      reply: new ReplyTemplate(response),
      label: decisionLabel(response, decisions),
      summary: summaryOf(response),
      // Shared by every review answered with these decisions: frozen, as the reply's parts are.
      reasons: freezeList(reasonsOf(decisions)),
      finding: hasFinding(decisions),
      failOpen,
    };
    if (first !== undefined) this.#answers.set(first, answer);
    return answer;
  }

  /** One finding per outcome (deny, warn, audit) with its failed results: logs and Events (cli/). */
  #report(request: AnsweredRequest, namespace: string, decisions: readonly SiteDecision[]): void {
    const observer = this.#deps.observer;
    if (observer?.finding === undefined || !hasFinding(decisions)) return;
    const uid = request.object?.metadata?.uid;
    const subject = {
      apiVersion:
        request.object?.apiVersion ??
        `${request.kind.group === '' ? '' : `${request.kind.group}/`}${request.kind.version}`,
      kind: request.kind.kind,
      namespace,
      name: request.name ?? request.object?.metadata?.name ?? '',
      ...(typeof uid === 'string' && uid !== '' ? { uid: clip(uid, 128) } : {}),
    };
    for (const outcome of ['deny', 'warn', 'audit'] as const) {
      const failures = decisions.flatMap((d) =>
        d.results.filter((r) => !r.passed && r.outcome === outcome).map((r) => findingLine(d, r)),
      );
      if (failures.length > 0) observer.finding({ ...subject, outcome, failures });
    }
  }

  /** The answer and what the log line and metrics say of it (`decisions` too, when there are any). */
  #result(
    response: AdmissionResponse,
    decision: string,
    request: Asked,
    decisions?: readonly SiteDecision[],
  ): Extract<ReviewResult, { ok: true }> {
    return this.#resultOf(
      reviewResponse(response),
      decision,
      request,
      summaryOf(response),
      decisions === undefined ? undefined : reasonsOf(decisions),
      decisions,
    );
  }

  #resultOf(
    review: object,
    decision: string,
    request: Asked,
    summary: string | undefined,
    reasons: readonly string[] | undefined,
    decisions: readonly SiteDecision[] | undefined,
    json?: string,
  ): Extract<ReviewResult, { ok: true }> {
    const result: Mutable<Extract<ReviewResult, { ok: true }>> = {
      ok: true,
      review,
      decision,
      kind: request.kind,
      operation: request.operation,
    };
    if (request.uid !== '') result.uid = request.uid;
    if (request.user !== undefined && request.user !== '') result.user = this.#clippedUser(request.user);
    if (reasons !== undefined) result.reasons = reasons;
    if (summary !== undefined) result.summary = summary;
    if (request.object !== undefined) result.object = request.object;
    if (decisions !== undefined) result.decisions = decisions;
    if (json !== undefined) result.json = json;
    return result;
  }

  /** clip(user, 256), the last one remembered. */
  #clippedUser(user: string): string {
    if (user !== this.#lastUser) {
      this.#lastUserClipped = clip(user, 256);
      this.#lastUser = user;
    }
    return this.#lastUserClipped;
  }
}

/** The log line's summary: the denial, or the warnings. */
function summaryOf(response: AdmissionResponse): string | undefined {
  return response.status?.message ?? response.warnings?.join('; ');
}

/** The reason codes of every failed result, each once, for the log line (one field to filter on). */
function reasonsOf(decisions: readonly SiteDecision[]): string[] | undefined {
  let reasons: string[] | undefined;
  for (const d of decisions)
    for (const r of d.results) if (!r.passed && !(reasons ??= []).includes(r.reason)) reasons.push(r.reason);
  return reasons;
}

function freezeList<T>(list: T[] | undefined): readonly T[] | undefined {
  return list === undefined ? undefined : Object.freeze(list);
}

/** `image X in spec.containers[0].image: policy P: expected …, found … [CODE]`, hostile text clipped. */
export function findingLine(decision: SiteDecision, result: PolicyResult): string {
  const policy = result.policy === undefined ? '' : `policy ${clip(result.policy, 253)}: `;
  return `image ${clip(decision.image, 512)} in ${clip(decision.field, 200)}: ${policy}${clip(reasonText(result), 1024)} [${result.reason}]`;
}

/** Who asked what, for the log line and the metric labels. */
interface Asked {
  readonly uid: string;
  readonly user?: string;
  /** A kind sigward handles, else `other`: it is a metric label, and anyone reaching the port can post any kind. */
  readonly kind: string;
  readonly operation: string;
  /** `namespace/name` of the reviewed object (either alone when the other is missing). */
  readonly object?: string;
}
const asked = (request: AnsweredRequest): Asked => {
  // Built field by field: this runs on every review.
  const who: { -readonly [K in keyof Asked]: Asked[K] } = {
    uid: request.uid,
    kind: HANDLED_KINDS.has(request.kind.kind) ? request.kind.kind : 'other',
    operation: request.operation,
  };
  if (request.userInfo.username !== undefined) who.user = request.userInfo.username;
  const object = objectName(request.namespace, request.name);
  if (object !== undefined) who.object = object;
  return who;
};

/**
 * What an answer reads of its AdmissionRequest (#answer, #report, #failed, asked): an AdmissionRequest
 * is one, so a review answered at once reads its request itself; one that waits keeps `answeredPart`.
 */
type AnsweredRequest = Pick<AdmissionRequest, 'uid' | 'kind' | 'operation' | 'namespace' | 'name'> & {
  readonly userInfo: Pick<UserInfo, 'username'>;
  /** The finding's subject: the object's apiVersion, name and uid. */
  readonly object?: {
    readonly apiVersion?: string | undefined;
    readonly metadata?: { readonly name?: string | undefined; readonly uid?: string | undefined } | undefined;
  };
};

/**
 * The fields of `request` an answer reads, copied as they are (not validated again: the same values
 * read the same way); nothing else of the body, above all not the object, its old version or options.
 */
function answeredPart(request: AdmissionRequest): AnsweredRequest {
  const username = request.userInfo.username;
  const part: Mutable<AnsweredRequest> = {
    uid: request.uid,
    kind: request.kind,
    operation: request.operation,
    userInfo: username === undefined ? {} : { username },
  };
  if (request.namespace !== undefined) part.namespace = request.namespace;
  if (request.name !== undefined) part.name = request.name;
  const object = request.object;
  if (object !== undefined) {
    // The body is parsed JSON: metadata may be null (review.ts allows it), which reads as undefined.
    const meta = object.metadata ?? undefined;
    part.object = {
      apiVersion: object.apiVersion,
      metadata: meta === undefined ? undefined : { name: meta.name, uid: meta.uid },
    };
  }
  return part;
}

/** Whether any result failed with an outcome that makes a finding (deny, warn, audit). */
function hasFinding(decisions: readonly SiteDecision[]): boolean {
  for (const d of decisions) for (const r of d.results) if (!r.passed && r.outcome !== 'allow') return true;
  return false;
}

/** `namespace/name`, `namespace` or `name` from what the review says (non-empty strings only). */
function objectName(namespace: unknown, name: unknown): string | undefined {
  const ns = typeof namespace === 'string' && namespace !== '' ? namespace : undefined;
  const n = typeof name === 'string' && name !== '' ? name : undefined;
  return ns === undefined ? n : n === undefined ? ns : `${ns}/${n}`;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function decisionLabel(response: AdmissionResponse, decisions: readonly SiteDecision[]): string {
  if (!response.allowed) {
    // Refused only because verification could not finish (registry, timeout, trust root): error-deny.
    const denying = decisions.flatMap((d) => d.results.filter((r) => !r.passed && r.outcome === 'deny'));
    return denying.length > 0 && denying.every((r) => ERROR_REASONS.has(r.reason)) ? 'error-deny' : 'deny';
  }
  // Loops, not closures: an allow is labelled on every review.
  let warn = false;
  let audit = false;
  for (const d of decisions) {
    for (const r of d.results)
      if (!r.passed && ERROR_REASONS.has(r.reason) && r.mode === 'enforce') return 'error-allow';
    if (d.outcome === 'warn') warn = true;
    else if (d.outcome === 'audit') audit = true;
  }
  return warn ? 'warn' : audit ? 'audit' : 'allow';
}

/** The namespace, service account and pull secrets the kubelet would use for this workload. */
export function workloadOf(request: AdmissionRequest, namespace: string): WorkloadIdentity {
  const path = podSpecPath(request.resource, request.subResource) ?? [];
  let spec: unknown = request.object;
  for (const key of path) spec = isObject(spec) ? spec[key] : undefined;
  return workloadIn(isObject(spec) ? spec : undefined, namespace);
}

/** workloadOf, from the pod spec itself (planReview found it). */
export function workloadIn(
  spec: Readonly<Record<string, unknown>> | undefined,
  namespace: string,
): WorkloadIdentity {
  if (spec === undefined) return { namespace };
  const account = spec['serviceAccountName'];
  const pullSecrets = spec['imagePullSecrets'];
  // Most pods name neither (the default service account, no pull secrets): nothing more to build.
  if ((typeof account !== 'string' || account === '') && !Array.isArray(pullSecrets)) return { namespace };
  const secrets = Array.isArray(pullSecrets)
    ? pullSecrets.flatMap((s: unknown) =>
        isObject(s) && typeof s['name'] === 'string' && s['name'] !== '' ? [s['name']] : [],
      )
    : [];
  return {
    namespace,
    ...(typeof account !== 'string' || account === '' ? {} : { serviceAccountName: account }),
    ...(secrets.length === 0 ? {} : { imagePullSecrets: secrets.slice(0, 32) }),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
