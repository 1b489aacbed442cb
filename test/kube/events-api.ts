// An events.k8s.io/v1 API that keeps what it is sent, as JSON on the wire, and refuses what the
// apiserver's strict validation of that API version refuses (pkg/apis/core/validation/events.go):
// required eventTime, reportingController (a qualified name), reportingInstance, action and reason,
// their length limits, a note of at most 1024 bytes, a DNS-subdomain name, the regarding object's
// namespace, and no deprecated fields. e2e/workloads.e2e.ts shows the real apiserver accepts the same.
import type { EventsApi } from '../../src/kube/client/apis.ts';
import { KubeApiError } from '../../src/kube/client/errors.ts';
import type { EventsV1Event } from '../../src/kube/client/resources.ts';

export interface StoredEvent {
  readonly namespace: string;
  /** The body as the apiserver receives it (JSON). */
  readonly body: Record<string, unknown> & {
    metadata: { name: string; namespace: string };
    regarding: { apiVersion: string; kind: string; namespace: string; name?: string; uid?: string };
    note: string;
    reason: string;
    type: string;
    action: string;
    eventTime: string;
    reportingController: string;
    reportingInstance: string;
  };
}

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

function invalid(body: StoredEvent['body'], namespace: string): string | undefined {
  const name = body.metadata?.name ?? '';
  if (name.length > 253 || !SUBDOMAIN.test(name)) return `metadata.name: Invalid value: "${name}"`;
  if (body.metadata.namespace !== namespace) return 'metadata.namespace: does not match the request';
  if (!MICRO_TIME.test(body.eventTime ?? '')) return `eventTime: Invalid value: "${body.eventTime}"`;
  if (body.type !== 'Normal' && body.type !== 'Warning') return `type: Invalid value: "${body.type}"`;
  if (!QUALIFIED.test(body.reportingController ?? '')) return 'reportingController: Invalid value';
  for (const field of ['reportingInstance', 'action', 'reason'] as const) {
    const v = body[field] ?? '';
    if (v.length === 0) return `${field}: Required value`;
    if (v.length > 128) return `${field}: Too long: may not be more than 128 bytes`;
  }
  if (Buffer.byteLength(body.note ?? '', 'utf8') > 1024)
    return 'note: Too long: may not be more than 1024 bytes';
  if (body.regarding?.namespace !== namespace) return 'regarding.namespace: does not match the event';
  for (const field of [
    'deprecatedSource',
    'deprecatedFirstTimestamp',
    'deprecatedLastTimestamp',
    'deprecatedCount',
  ])
    if (body[field] !== undefined) return `${field}: Invalid value: needs to be unset`;
  return undefined;
}

export interface EventsApiUnderTest {
  readonly api: Pick<EventsApi, 'create'>;
  readonly events: StoredEvent[];
  /** Refuses every later create with this error. */
  failWith(error: Error | undefined): void;
}

export function eventsApi(): EventsApiUnderTest {
  const events: StoredEvent[] = [];
  let failure: Error | undefined;
  const api = {
    create: async (namespace: string, body: EventsV1Event) => {
      if (failure !== undefined) throw failure;
      const wire = JSON.parse(JSON.stringify(body)) as StoredEvent['body'];
      const problem = invalid(wire, namespace);
      if (problem !== undefined)
        throw new KubeApiError(
          422,
          'Invalid',
          `Event "${wire.metadata?.name}" is invalid: ${problem}`,
          `POST events in ${namespace}`,
        );
      events.push({ namespace, body: wire });
      return body;
    },
  };
  return {
    api,
    events,
    failWith: (error) => (failure = error),
  };
}
