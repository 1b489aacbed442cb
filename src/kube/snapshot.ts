// An immutable policy snapshot: every policy and trust root compiled once, with a generation that
// changes whenever any spec changes (and only then: a status write is not a change). The engine keys
// its verdict cache on this generation, so a new snapshot can never be answered from an old verdict.
import { createHash } from 'node:crypto';
import { compilePolicy, compileTrustRoot, PUBLIC_GOOD } from '../policy/compile.ts';
import type { CompiledPolicy, CompiledTrustRoot, FieldError } from '../policy/compile.ts';
import {
  compilePolicyControllerPolicy,
  isPolicyControllerResource,
  POLICY_CONTROLLER_GROUP,
} from '../policy/policy-controller.ts';
import { PUBLIC_GOOD_TRUST_ROOT } from '../policy/types.ts';

export type ResourceKind = 'ClusterImagePolicy' | 'ImagePolicy' | 'TrustRoot';

/** What compiling one resource gave, for its status condition. */
export interface CompiledResource {
  readonly kind: ResourceKind;
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly generation: number;
  /**
   * Set for resources another controller owns (policy-controller's `policy.sigstore.dev`, read
   * as-is): sigward never writes their status; their findings are logged (and shown by the CLI).
   */
  readonly apiGroup?: typeof POLICY_CONTROLLER_GROUP;
  readonly errors: readonly FieldError[];
  /** Compiled, but worth a look (an identity that accepts anyone): shown in the Ready condition. */
  readonly warnings?: readonly FieldError[];
  /** The status.observedGeneration and Ready condition the resource carries now. */
  readonly observedGeneration?: number;
  readonly readyStatus?: string;
  readonly readyMessage?: string;
  /** A TrustRoot's `Refreshed` condition as it stands (written from the root's refresh state). */
  readonly refreshed?: {
    readonly status?: string;
    readonly reason?: string;
    readonly message?: string;
    readonly lastTransitionTime?: string;
  };
}

export interface PolicySnapshot {
  /** sha256 over every compiled input; changes when any spec, or the set of resources, changes. */
  readonly generation: string;
  readonly policies: readonly CompiledPolicy[];
  /** By name; `public-good` is always there (built in unless a resource of that name overrides it). */
  readonly trustRoots: ReadonlyMap<string, CompiledTrustRoot>;
  readonly resources: readonly CompiledResource[];
  readonly createdAt: Date;
}

interface RawResource {
  readonly kind?: unknown;
  readonly metadata?: {
    readonly name?: unknown;
    readonly namespace?: unknown;
    readonly uid?: unknown;
    readonly generation?: unknown;
  };
  readonly spec?: unknown;
  readonly status?: {
    readonly observedGeneration?: unknown;
    readonly conditions?: readonly {
      type?: unknown;
      status?: unknown;
      reason?: unknown;
      message?: unknown;
      lastTransitionTime?: unknown;
    }[];
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function buildSnapshot(resources: readonly unknown[], now = new Date()): PolicySnapshot {
  const keyed = resources
    .map((r) => ({ r: r as RawResource, key: identityOf(r as RawResource) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const hash = createHash('sha256');
  const policies: CompiledPolicy[] = [];
  const trustRoots = new Map<string, CompiledTrustRoot>([[PUBLIC_GOOD_TRUST_ROOT, PUBLIC_GOOD]]);
  const compiled: CompiledResource[] = [];
  for (const { r, key } of keyed) {
    hash
      .update(key)
      .update('\0')
      .update(JSON.stringify(r.spec ?? null))
      .update('\0');
    const kind = str(r.kind);
    const ready = r.status?.conditions?.find((c) => c.type === 'Ready');
    const status = {
      ...(typeof r.status?.observedGeneration === 'number'
        ? { observedGeneration: r.status.observedGeneration }
        : {}),
      ...(ready === undefined ? {} : { readyStatus: str(ready.status), readyMessage: str(ready.message) }),
    };
    if (isPolicyControllerResource(r)) {
      const foreign = compileForeign(r);
      compiled.push(foreign.resource);
      if (foreign.policy !== undefined) policies.push(foreign.policy);
    } else if (kind === 'TrustRoot') {
      const { trustRoot, errors } = compileTrustRoot(r);
      const refreshed = r.status?.conditions?.find((c) => c.type === 'Refreshed');
      if (trustRoot.name !== '') trustRoots.set(trustRoot.name, trustRoot);
      compiled.push({
        kind,
        name: trustRoot.name,
        generation: trustRoot.generation,
        errors,
        ...uidOf(r),
        ...status,
        ...(refreshed === undefined
          ? {}
          : {
              refreshed: {
                status: str(refreshed.status),
                reason: str(refreshed.reason),
                message: str(refreshed.message),
                lastTransitionTime: str(refreshed.lastTransitionTime),
              },
            }),
      });
    } else {
      const { policy, errors, warnings } = compilePolicy(r);
      policies.push(policy);
      compiled.push({
        kind: policy.kind,
        name: policy.name,
        ...(policy.namespace === undefined ? {} : { namespace: policy.namespace }),
        generation: policy.generation,
        errors,
        ...(warnings.length === 0 ? {} : { warnings }),
        ...uidOf(r),
        ...status,
      });
    }
  }
  return Object.freeze({
    generation: hash.digest('hex').slice(0, 32),
    policies: Object.freeze(policies),
    trustRoots,
    resources: Object.freeze(compiled),
    createdAt: now,
  });
}

/** A policy-controller resource: its ClusterImagePolicy translated, any other kind refused by name. */
function compileForeign(r: RawResource): { resource: CompiledResource; policy?: CompiledPolicy } {
  const name = str(r.metadata?.name) ?? '';
  const generation = typeof r.metadata?.generation === 'number' ? r.metadata.generation : 0;
  const base = { name, generation, apiGroup: POLICY_CONTROLLER_GROUP, ...uidOf(r) } as const;
  if (r.kind !== 'ClusterImagePolicy')
    return {
      resource: {
        ...base,
        kind: r.kind === 'TrustRoot' ? 'TrustRoot' : 'ClusterImagePolicy',
        errors: [
          {
            field: 'kind',
            message: `${String(r.kind)} of ${POLICY_CONTROLLER_GROUP} is not read: only its ClusterImagePolicy is (create a sigward TrustRoot for trust material)`,
          },
        ],
      },
    };
  const { policy, errors, warnings } = compilePolicyControllerPolicy(r);
  const resource: CompiledResource = {
    ...base,
    kind: 'ClusterImagePolicy',
    errors,
    ...(warnings.length === 0 ? {} : { warnings }),
  };
  return { resource, policy };
}

function uidOf(r: RawResource): { uid?: string } {
  const uid = str(r.metadata?.uid);
  return uid === undefined ? {} : { uid };
}

function identityOf(r: RawResource): string {
  const m = r.metadata ?? {};
  return [
    str(r.kind) ?? '',
    str(m.namespace) ?? '',
    str(m.name) ?? '',
    str(m.uid) ?? '',
    String(m.generation ?? ''),
  ].join('/');
}
