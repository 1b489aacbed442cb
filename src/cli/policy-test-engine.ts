// The webhook's own engine, wired for `sigward policy test`: the given policy files compiled into one
// snapshot (kube/snapshot, policy-controller ClusterImagePolicies included), the same Decider and
// ReviewEngine the webhook serves /validate with, real registries. Only the sources differ: trust from
// --trusted-root or public-good TUF (once, not in the background), credentials from the docker config
// (the operator's, not the workload's pull secrets), and, in --cluster mode, key Secrets from the
// cluster. There is no second evaluation path to drift from the webhook's.
import { statSync } from 'node:fs';
import { describeError } from '../errors.ts';
import { Decider, RegistryAccess, ReviewEngine } from '../engine/index.ts';
import type { CredentialsSource, PublicKeySource, ReviewResult } from '../engine/index.ts';
import { TrustRootRegistry } from '../engine/trust-roots.ts';
// Not kube/index.ts: the Kubernetes client and its informers are for --cluster only.
import { readPolicyDirectory } from '../kube/file-source.ts';
import { buildSnapshot } from '../kube/snapshot.ts';
import type { PolicySnapshot } from '../kube/snapshot.ts';
import { combineKeychains } from '../oci/index.ts';
import type { Keychain } from '../oci/index.ts';
import { readDocuments } from './policy-test-inputs.ts';
import { testRegistryEndpoints } from './cloud-credentials.ts';
import { tufCacheDirectory } from './tuf-cache.ts';

export interface TestEngineOptions {
  /** Policy files or directories (every *.yaml / *.yml / *.json in them). */
  readonly policies: readonly string[];
  readonly trustedRootFile?: string;
  readonly insecureRegistries?: readonly string[];
  readonly keychain: Keychain;
  readonly unmatched: 'allow' | 'warn' | 'deny';
  readonly failureOutcome: 'deny' | 'allow';
  readonly deadlineMs: number;
  /** Skip rules as the webhook applies them (--cluster: its namespace, scope and namespace labels). */
  readonly ownNamespace?: string;
  readonly scope?: 'opt-out' | 'opt-in';
  readonly namespaceLabels?: (namespace: string) => Readonly<Record<string, string>> | undefined;
  readonly keys?: PublicKeySource;
  readonly env?: NodeJS.ProcessEnv;
  /** A warning for the person at the terminal (a trust root that did not load, …). */
  readonly warn: (text: string) => void;
}

export interface TestEngine {
  readonly snapshot: PolicySnapshot;
  review(admissionReview: unknown): Promise<ReviewResult>;
  close(): Promise<void>;
}

/**
 * Policy resources from files (`-`: stdin; `kind: List` flattened, so `kubectl get … -o yaml` output
 * works) and directories, in order. Throws SigwardError on unreadable YAML.
 */
export function readPolicies(paths: readonly string[]): unknown[] {
  return paths.flatMap((path) =>
    path !== '-' && statSync(path).isDirectory() ? readPolicyDirectory(path) : readDocuments(path),
  );
}

export async function startTestEngine(options: TestEngineOptions): Promise<TestEngine> {
  const snapshot = buildSnapshot(readPolicies(options.policies));
  const tufCache = tufCacheDirectory(options.env);
  const trustRoots = new TrustRootRegistry({
    ...(options.trustedRootFile === undefined ? {} : { trustedRootFile: options.trustedRootFile }),
    refreshMs: 0,
    checkMs: 0,
    cacheDir: tufCache.path,
  });
  const registry = new RegistryAccess({
    insecureRegistries: options.insecureRegistries ?? [],
    registryEndpoints: testRegistryEndpoints(options.env),
  });
  try {
    trustRoots.sync(snapshot.trustRoots);
    // Only the roots some authority uses: no TUF fetch (or warning) for a root nothing needs.
    const used = new Set(snapshot.policies.flatMap((p) => p.authorities.map((a) => a.trustRootRef)));
    for (const name of snapshot.trustRoots.keys()) {
      if (!used.has(name)) continue;
      // Without --trusted-root, public-good is refreshed through TUF once (the embedded root otherwise).
      if (name === 'public-good' && options.trustedRootFile !== undefined) continue;
      const error = await trustRoots.refresh(name);
      if (error !== undefined)
        options.warn(
          name === 'public-good'
            ? `public-good TUF refresh failed (${describeError(error)}); using the root embedded in @sigstore/tuf`
            : `TrustRoot ${name} did not load: ${describeError(error)} (its authorities give TRUST_ROOT_ERROR)`,
        );
    }
  } catch (error) {
    trustRoots.stop();
    tufCache.release();
    await registry.close();
    throw error;
  }
  const credentials: CredentialsSource = {
    keychainFor: () => Promise.resolve(options.keychain),
    secretKeychain: () => Promise.resolve(combineKeychains(options.keychain)),
  };
  const decider = new Decider(
    {
      resolver: registry,
      verifier: registry,
      trustRoots,
      credentials,
      ...(options.keys === undefined ? {} : { keys: options.keys }),
    },
    {
      deadlineMs: options.deadlineMs,
      evaluation: {
        unmatched: options.unmatched,
        errors: options.failureOutcome === 'allow' ? 'audit' : 'deny',
      },
      ownNamespace: options.ownNamespace ?? 'sigward',
    },
  );
  const engine = new ReviewEngine({
    decider,
    policies: { current: () => snapshot },
    skip: { ownNamespace: options.ownNamespace ?? 'sigward', scope: options.scope ?? 'opt-out' },
    ...(options.namespaceLabels === undefined ? {} : { namespaceLabels: options.namespaceLabels }),
  });
  return {
    snapshot,
    review: (body) => engine.handle(body, 'validate'),
    close: async () => {
      trustRoots.stop();
      tufCache.release();
      await registry.close();
    },
  };
}
