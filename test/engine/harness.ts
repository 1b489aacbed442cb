// A webhook engine over a real registry (Debian's docker-registry) holding real signatures: the cosign
// v3 bundle sigstore-rs ships for kubewarden-controller (public-good keyless), and images made here
// signed with a key made here. Policies are resources as a user writes them, compiled by kube's
// snapshot builder; metrics are the real prom-client ones the server exposes.
import type { KeyObject } from 'node:crypto';
import { RegistryClient } from '../../src/oci/client.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import { Decider } from '../../src/engine/decide.ts';
import type { DeciderDeps, DeciderSettings } from '../../src/engine/decide.ts';
import { RegistryAccess } from '../../src/engine/registry-adapters.ts';
import { ReviewEngine } from '../../src/engine/review.ts';
import type { ReviewResult } from '../../src/engine/review.ts';
import type { EngineObserver, PolicySnapshotView } from '../../src/engine/ports.ts';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import type { Metrics } from '../../src/telemetry/metrics.ts';
import { counterValue } from '../../src/telemetry/metrics.ts';
import { pushTestImage } from '../support/images.ts';
import {
  kubewarden,
  pushBundleReferrer,
  pushLegacySignature,
  testSigner,
} from '../sigstore/discover-fixtures.ts';
import type { TestSigner } from '../sigstore/discover-fixtures.ts';
import { prodRoot } from '../sigstore/ext.ts';
import type { TrustRootSnapshot } from '../../src/sigstore/trust-root.ts';

export const API = 'policy.sigward.dev/v1alpha1';

export const kubewardenAuthority = (subject = kubewarden.subject, issuer = kubewarden.issuer) => ({
  name: 'release-workflow',
  keyless: { identities: [{ issuer, subject }] },
});

/** A workflow of kubewarden's that did not sign its images: an identity the signatures do not match. */
export const OTHER_KUBEWARDEN_WORKFLOW =
  'https://github.com/kubewarden/other/.github/workflows/x.yml@refs/heads/main';

/** The ClusterImagePolicy `kubewarden` over the test registries' signed images, for one identity. */
export const kubewardenPolicy = (
  options: { subject?: string; extra?: Record<string, unknown>; generation?: number } = {},
) =>
  clusterPolicy(
    'kubewarden',
    ['127.0.0.1:*/signed/**'],
    [kubewardenAuthority(options.subject)],
    options.extra,
    options.generation,
  );

export function pemOf(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

export function clusterPolicy(
  name: string,
  images: string[],
  authorities: object[],
  extra: Record<string, unknown> = {},
  generation = 1,
) {
  return {
    apiVersion: API,
    kind: 'ClusterImagePolicy',
    metadata: { name, generation, uid: `uid-${name}` },
    spec: { images, authorities, ...extra },
  };
}

let uid = 0;
export function podReview(images: string[], options: { namespace?: string; dryRun?: boolean } = {}) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `review-${++uid}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: options.namespace ?? 'apps',
      name: 'web',
      operation: 'CREATE',
      userInfo: { username: 'tester' },
      ...(options.dryRun ? { dryRun: true } : {}),
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web', namespace: options.namespace ?? 'apps' },
        spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
      },
    },
  };
}

export interface Fixtures {
  /** `host/signed/kubewarden@sha256:…`: keyless cosign v3 bundle (public-good). */
  readonly keylessImage: (host: string) => string;
  /** A tagged image made here and signed with `signer`'s key (legacy .sig, no tlog). */
  readonly keySigned: { readonly tagged: (host: string) => string; readonly digest: string };
  /** A tagged image nobody signed. */
  readonly unsigned: { readonly tagged: (host: string) => string; readonly digest: string };
  readonly signer: TestSigner;
}

/** Pushes the fixtures into `registryHost` (all through one client). */
export async function pushFixtures(registryHost: string): Promise<Fixtures> {
  const client = new RegistryClient();
  const repo = (repository: string): RepositoryName => ({ registry: registryHost, repository });
  try {
    await pushBundleReferrer(client, repo('signed/kubewarden'), kubewarden.digest, kubewarden.bundle());
    const signer = testSigner();
    const signedImage = await pushTestImage(client, repo('apps/api'), { tag: 'v1' });
    await pushLegacySignature(client, repo('apps/api'), signedImage.digest, [
      signer.layerFor(signedImage.digest, `${registryHost}/apps/api`),
    ]);
    const unsignedImage = await pushTestImage(client, repo('apps/unsigned'), { tag: 'v1' });
    return {
      keylessImage: (host) => `${host}/signed/kubewarden@${kubewarden.digest}`,
      keySigned: { tagged: (host) => `${host}/apps/api:v1`, digest: signedImage.digest },
      unsigned: { tagged: (host) => `${host}/apps/unsigned:v1`, digest: unsignedImage.digest },
      signer,
    };
  } finally {
    await client.close();
  }
}

export interface EngineUnderTest {
  readonly engine: ReviewEngine;
  readonly decider: Decider;
  readonly metrics: Metrics;
  readonly registry: RegistryAccess;
  setPolicies(resources: unknown[]): PolicySnapshotView;
  review(body: unknown, route?: 'validate' | 'mutate'): Promise<Extract<ReviewResult, { ok: true }>>;
  verifications(labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export function engineUnderTest(
  resources: unknown[],
  settings: Partial<DeciderSettings> = {},
  observer: EngineObserver = {},
  trustRoot: () => TrustRootSnapshot = prodRoot,
  deps: Pick<DeciderDeps, 'credentials'> = {},
): EngineUnderTest {
  const metrics = createMetrics({ processMetrics: false });
  let snapshot: PolicySnapshotView = buildSnapshot(resources);
  const registry = new RegistryAccess({
    onExchange: (e) => metrics.registryExchange(e),
    maxRetries: 0,
  });
  const decider = new Decider(
    {
      resolver: registry,
      verifier: registry,
      trustRoots: { trustRoot: (name) => (name === 'public-good' ? trustRoot() : undefined) },
      ...deps,
      observer: {
        verification: ({ policy, authority, result, reason }) =>
          metrics.countVerification(policy, authority, result, reason),
        attestation: (labels) => metrics.attestationVerifications.inc(labels),
        verificationTime: (policy, seconds) => metrics.verificationDuration.observe({ policy }, seconds),
        cacheLookup: metrics.cacheLookup,
        ...observer,
      },
    },
    { deadlineMs: 5000, evaluation: { unmatched: 'deny', errors: 'deny' }, ...settings },
  );
  const engine = new ReviewEngine({
    decider,
    policies: { current: () => snapshot },
    skip: { ownNamespace: 'sigward', scope: 'opt-out' },
    observer: { failOpen: (reason) => metrics.failOpen.inc({ reason }), ...observer },
  });
  return {
    engine,
    decider,
    metrics,
    registry,
    setPolicies(next) {
      snapshot = buildSnapshot(next);
      return snapshot;
    },
    async review(body, route = 'validate') {
      const result = await engine.handle(body, route);
      if (!result.ok) throw new Error(`not a review: ${result.message}`);
      return result;
    },
    verifications: (labels = {}) => counterValue(metrics.verifications, labels),
    close: () => registry.close(),
  };
}

/** The AdmissionResponse inside a reply. */
export function responseOf(result: { review: object }): {
  uid: string;
  allowed: boolean;
  status?: { code?: number; message?: string };
  warnings?: string[];
  patch?: string;
  auditAnnotations?: Record<string, string>;
} {
  return (result.review as { response: ReturnType<typeof responseOf> }).response;
}
