// Kubernetes Events for audit-mode findings: the workload gets a Warning event that says which image
// failed which policy, so `kubectl describe` / `kubectl get events` show what enforce mode would deny.
// Never on a dry-run request (the object is not created, and NoneOnDryRun promises no side effects).
// A burst of identical findings (a ReplicaSet scaling up) becomes one event per object and message per
// `dedupMs`.
import { LRUCache } from 'lru-cache';
import type { CoreV1Api } from '@kubernetes/client-node';

export interface AuditSubject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  /** Empty for a pod created with generateName (its name is given after admission). */
  readonly name: string;
  readonly uid?: string;
}

export interface EventRecorderOptions {
  readonly component?: string;
  readonly instance?: string;
  readonly dedupMs?: number;
  readonly onError?: (error: unknown) => void;
}

export class EventRecorder {
  readonly #core: CoreV1Api;
  readonly #options: EventRecorderOptions;
  readonly #recent: LRUCache<string, true>;

  constructor(core: CoreV1Api, options: EventRecorderOptions = {}) {
    this.#core = core;
    this.#options = options;
    this.#recent = new LRUCache({ max: 10_000, ttl: options.dedupMs ?? 60_000 });
  }

  /** Records a Warning event; never throws (an event is best effort, admission must not wait on it). */
  warn(subject: AuditSubject, reason: string, message: string): void {
    const key = `${subject.namespace}/${subject.kind}/${subject.name}/${reason}/${message}`;
    if (this.#recent.has(key)) return;
    this.#recent.set(key, true);
    const now = new Date();
    const base = (subject.name || subject.kind.toLowerCase()).slice(0, 200);
    this.#core
      .createNamespacedEvent({
        namespace: subject.namespace,
        body: {
          metadata: { generateName: `${base}.`, namespace: subject.namespace },
          involvedObject: {
            apiVersion: subject.apiVersion,
            kind: subject.kind,
            namespace: subject.namespace,
            ...(subject.name ? { name: subject.name } : {}),
            ...(subject.uid ? { uid: subject.uid } : {}),
          },
          reason,
          message: message.slice(0, 1024),
          type: 'Warning',
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          source: { component: this.#options.component ?? 'sigward' },
          reportingComponent: this.#options.component ?? 'sigward',
          reportingInstance: this.#options.instance ?? 'sigward',
        },
      })
      .catch((error: unknown) => this.#options.onError?.(error));
  }
}
