// What sigward could not honour in a policy another controller owns (policy-controller's
// ClusterImagePolicy, read as-is), as a Kubernetes Event regarding that object: its status belongs to
// policy-controller, so `kubectl describe clusterimagepolicies.policy.sigstore.dev NAME` and `kubectl
// get events` are where an operator sees the findings without reading sigward's logs. The Event's name
// is derived from the object, its generation and the findings, so every replica (and a restart) writes
// the same Event once: the second create is AlreadyExists and is ignored.
import { createHash } from 'node:crypto';
import type { EventsApi } from './client/apis.ts';
import { statusOf } from './client/errors.ts';
import { microTime } from './client/resources.ts';
import type { EventsV1Event } from './client/resources.ts';
import type { FieldError } from '../policy/compile.ts';
import { eventNote } from './events.ts';

export const POLICY_EVENT_REASONS = {
  notHonoured: 'PolicyNotHonoured',
  honouredWithDifferences: 'PolicyHonouredWithDifferences',
} as const;

export interface ForeignPolicy {
  /** e.g. `policy.sigstore.dev/v1beta1`. */
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid?: string;
  readonly generation: number;
  readonly errors: readonly FieldError[];
  readonly warnings: readonly FieldError[];
}

/** Cluster-scoped objects have their Events in `default`, as Nodes and other cluster objects do. */
const EVENT_NAMESPACE = 'default';

/** Writes the findings once (per object, generation and findings); resolves false when there were none. */
export async function recordPolicyFindings(
  api: Pick<EventsApi, 'create'>,
  policy: ForeignPolicy,
  options: { readonly instance?: string } = {},
): Promise<boolean> {
  if (policy.errors.length === 0 && policy.warnings.length === 0) return false;
  const lines = (items: readonly FieldError[]): string[] =>
    items.map((e) => (e.field === '' ? e.message : `${e.field}: ${e.message}`));
  const failing = policy.errors.length > 0;
  const note = eventNote(
    failing ? 'not honoured, its images fail with POLICY_INVALID' : 'honoured with differences',
    [...lines(policy.errors), ...lines(policy.warnings)],
  );
  const digest = createHash('sha256')
    .update(`${policy.uid ?? ''}\0${policy.generation}\0${note}`)
    .digest('hex')
    .slice(0, 16);
  const body: EventsV1Event = {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: `${policy.name.slice(0, 200)}.${digest}`, namespace: EVENT_NAMESPACE },
    eventTime: microTime(),
    type: 'Warning',
    reason: failing ? POLICY_EVENT_REASONS.notHonoured : POLICY_EVENT_REASONS.honouredWithDifferences,
    action: 'Translate',
    note,
    regarding: {
      apiVersion: policy.apiVersion,
      kind: policy.kind,
      name: policy.name,
      ...(policy.uid === undefined ? {} : { uid: policy.uid }),
    },
    reportingController: 'sigward.dev/webhook',
    reportingInstance: (options.instance ?? 'sigward').slice(0, 128),
  };
  try {
    await api.create(EVENT_NAMESPACE, body);
  } catch (error) {
    if (statusOf(error) === 409) return true;
    throw error;
  }
  return true;
}
