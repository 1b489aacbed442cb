// Kubernetes Events for admission findings: a denied, warned or audited workload gets a Warning event
// regarding it (reason ImageVerificationDenied / ImageVerificationWarning / ImageVerificationAudit, and
// ImageRecheckFailed for a running Pod the continuous re-check finds failing) whose
// note names each image, its field, the policy and the reason code, so `kubectl describe` and
// `kubectl get events --field-selector involvedObject.name=NAME` show why, even for a denied CREATE whose
// object never came to exist.
//
// Written through events.k8s.io/v1, the API Kubernetes' own current recorder (client-go tools/events)
// and Kyverno write: the apiserver validates it strictly (eventTime, reportingController, action,
// reason, a note of at most 1 kB), and core/v1 serves the same object, so `kubectl get events` shows it
// with `involvedObject` = `regarding`.
//
// Never called for a dry-run request (engine/review.ts): the object is not created, and the webhooks'
// sideEffects: NoneOnDryRun promises no side effects. Two limits keep a crash-looping controller from
// flooding the apiserver: the same event on the same object is written once per `dedupMs`, and all
// events share one token bucket (`burst`, refilled at `perSecond`); what either drops is counted through
// `onDropped` (a metric).
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { EventsApi } from './client/apis.ts';
import { microTime } from './client/resources.ts';
import type { EventsV1Event } from './client/resources.ts';
import { TokenBucket } from './token-bucket.ts';

/** deny, warn, audit: what admission did; recheck: a running Pod failed the continuous re-check. */
export type FindingOutcome = 'deny' | 'warn' | 'audit' | 'recheck';

/** What one admission found wrong, of one outcome (structurally engine/'s AdmissionFinding). */
export interface WorkloadFinding {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  /** Empty for an object created with generateName before the apiserver named it. */
  readonly name: string;
  readonly uid?: string;
  readonly outcome: FindingOutcome;
  /** One line per failed (image, policy): `image X in spec.containers[0].image: policy P: … [CODE]`. */
  readonly failures: readonly string[];
}

export const EVENT_REASONS: Readonly<Record<FindingOutcome, string>> = {
  deny: 'ImageVerificationDenied',
  warn: 'ImageVerificationWarning',
  audit: 'ImageVerificationAudit',
  recheck: 'ImageRecheckFailed',
};
const VERBS: Readonly<Record<FindingOutcome, string>> = {
  deny: 'denied',
  warn: 'warning',
  audit: 'audit',
  recheck: 'running image no longer passes',
};
/** events.k8s.io/v1 `action`: what sigward did (with the request, or the re-check of a running Pod). */
const ACTIONS: Readonly<Record<FindingOutcome, string>> = {
  deny: 'Deny',
  warn: 'Admit',
  audit: 'Admit',
  recheck: 'Recheck',
};

/** The apiserver refuses an events.k8s.io/v1 note longer than this many bytes. */
export const NOTE_MAX_BYTES = 1024;
/** reportingInstance, action and reason: at most 128 characters each. */
const FIELD_MAX = 128;
const NAME_MAX = 253;

export type DropCause = 'duplicate' | 'rate-limited' | 'failed';

export interface EventRecorderOptions {
  /** reportingController: a qualified name (default `sigward.dev/webhook`). */
  readonly controller?: string;
  /** reportingInstance (default `sigward`): the pod's host name. */
  readonly instance?: string;
  /** The same event on the same object is written at most once per this many ms (default 60 s). */
  readonly dedupMs?: number;
  /** Events written at once before the rate applies (default 25). */
  readonly burst?: number;
  /** Events written per second, across all objects, once the burst is spent (default 1). */
  readonly perSecond?: number;
  /** Milliseconds, monotonic (default performance.now); tests move it. */
  readonly now?: () => number;
  readonly onDropped?: (cause: DropCause) => void;
  readonly onError?: (error: unknown) => void;
}

export class EventRecorder {
  readonly #api: Pick<EventsApi, 'create'>;
  readonly #options: EventRecorderOptions;
  readonly #now: () => number;
  readonly #recent = new LRUCache<string, number>({ max: 10_000 });
  readonly #bucket: TokenBucket;

  constructor(api: Pick<EventsApi, 'create'>, options: EventRecorderOptions = {}) {
    this.#api = api;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#bucket = new TokenBucket({
      burst: options.burst ?? 25,
      perSecond: options.perSecond ?? 1,
      now: this.#now,
    });
  }

  /** Records the finding as a Warning event; never throws and never waits (admission must not). */
  record(finding: WorkloadFinding): void {
    if (finding.failures.length === 0) return;
    const reason = EVENT_REASONS[finding.outcome];
    const note = eventNote(VERBS[finding.outcome], finding.failures);
    const key = `${finding.namespace}/${finding.kind}/${finding.name}/${reason}/${note}`;
    const now = this.#now();
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < (this.#options.dedupMs ?? 60_000)) {
      this.#options.onDropped?.('duplicate');
      return;
    }
    // A dropped event is not remembered: the next identical one may be written once there is budget.
    if (!this.#bucket.take()) {
      this.#options.onDropped?.('rate-limited');
      return;
    }
    this.#recent.set(key, now);
    this.#api.create(finding.namespace, this.#event(finding, reason, note)).catch((error: unknown) => {
      this.#options.onDropped?.('failed');
      this.#options.onError?.(error);
    });
  }

  #event(finding: WorkloadFinding, reason: string, note: string): EventsV1Event {
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: eventName(finding), namespace: finding.namespace },
      eventTime: microTime(),
      type: 'Warning',
      reason,
      action: ACTIONS[finding.outcome],
      note,
      regarding: {
        apiVersion: finding.apiVersion,
        kind: finding.kind,
        namespace: finding.namespace,
        ...(finding.name === '' ? {} : { name: finding.name }),
        ...(finding.uid === undefined || finding.uid === '' ? {} : { uid: finding.uid }),
      },
      reportingController: this.#options.controller ?? 'sigward.dev/webhook',
      reportingInstance: (this.#options.instance ?? 'sigward').slice(0, FIELD_MAX),
    };
  }
}

/**
 * `denied: <failure>; <failure> (+N more)` in at most `maxBytes` UTF-8 bytes: whole failures while they
 * fit, the count of the rest, and the first one cut (never inside a character) if even it is too long.
 */
export function eventNote(verb: string, failures: readonly string[], maxBytes = NOTE_MAX_BYTES): string {
  const more = (n: number): string => (n === 0 ? '' : ` (+${n} more)`);
  let note = `${verb}: `;
  for (const [i, failure] of failures.entries()) {
    const piece = i === 0 ? failure : `; ${failure}`;
    const after = failures.length - i - 1;
    if (bytes(note) + bytes(piece) + bytes(more(after)) <= maxBytes) {
      note += piece;
      continue;
    }
    if (i > 0) return note + more(failures.length - i);
    const room = maxBytes - bytes(note) - bytes(more(after)) - bytes('…');
    return `${note}${cutToBytes(failure, room)}…${more(after)}`;
  }
  return note;
}

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

function cutToBytes(text: string, max: number): string {
  let out = '';
  let used = 0;
  for (const ch of text) {
    const n = bytes(ch);
    if (used + n > max) break;
    out += ch;
    used += n;
  }
  return out;
}

/**
 * `<object name>.<hex time><hex random>`, the shape Kubernetes' recorder gives its events; a DNS
 * subdomain of at most 253 characters (an object without a name yet: its kind).
 */
function eventName(finding: WorkloadFinding): string {
  const suffix = `${Date.now().toString(16)}${randomBytes(4).toString('hex')}`;
  const base = (finding.name || finding.kind.toLowerCase())
    .slice(0, NAME_MAX - 1 - suffix.length)
    .replace(/[-.]+$/, '');
  return `${base}.${suffix}`;
}
