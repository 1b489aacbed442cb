// What the engine needs from the outside, as interfaces: cli/ wires the real ones (registry client,
// sigstore verifier, kube/ informers and pull secrets, trust-root stores), tests wire the same real
// ones against a local registry, or small fakes where a fault must be exact.
import type { KeyObject } from 'node:crypto';
import type { ImageReference, Keychain, RepositoryName } from '../oci/index.ts';
import type { CompiledPolicy, CompiledTrustRoot } from '../policy/compile.ts';
import type { TrustRootSnapshot } from '../sigstore/trust-root.ts';
import type { SharedReads } from '../sigstore/shared-reads.ts';
import type { AttestationVerdict } from '../sigstore/verify-attestations.ts';
import type { Authority, ImageVerdict, MultiArch } from '../sigstore/verify-image.ts';

/** Tag → digest, with the workload's credentials. Throws SigwardError REGISTRY_* on failure. */
export interface ImageResolver {
  resolveDigest(reference: ImageReference, keychain: Keychain, signal: AbortSignal): Promise<string>;
}

export interface VerifyRequest {
  readonly image: { readonly repository: RepositoryName; readonly digest: string };
  readonly authorities: readonly Authority[];
  readonly trust: TrustRootSnapshot;
  readonly multiArch: MultiArch;
  readonly signatureRepository?: RepositoryName;
  readonly keychain: Keychain;
  readonly signal: AbortSignal;
  /** Reads shared with the verification running beside this one on the same digest (one of each). */
  readonly reads?: SharedReads;
}

export interface AttestationRequest extends Omit<VerifyRequest, 'multiArch'> {
  /** Predicate type URIs wanted; others are only counted. */
  readonly predicateTypes: readonly string[];
}

/** Discovers and verifies an image's signatures; registry failures are verdicts (status `error`). */
export interface SignatureVerifier {
  verify(request: VerifyRequest): Promise<ImageVerdict>;
  /** The same for in-toto attestations (authorities with `attestations`). */
  verifyAttestations?(request: AttestationRequest): Promise<AttestationVerdict>;
}

/** The policies in force now. */
export interface PolicySnapshotView {
  /** Changes whenever any policy or trust root changes: part of every verdict cache key. */
  readonly generation: string;
  readonly policies: readonly CompiledPolicy[];
  readonly trustRoots: ReadonlyMap<string, CompiledTrustRoot>;
}

export interface PolicySnapshotSource {
  current(): PolicySnapshotView | undefined;
}

/** Trust material by TrustRoot name; undefined when that root is not loaded (TRUST_ROOT_ERROR). */
export interface TrustRootSource {
  trustRoot(name: string): TrustRootSnapshot | undefined;
}

export interface WorkloadIdentity {
  readonly namespace: string;
  readonly serviceAccountName?: string;
  readonly imagePullSecrets?: readonly string[];
}

/** Pull credentials of a workload (its imagePullSecrets and its service account's). */
export interface CredentialsSource {
  keychainFor(workload: WorkloadIdentity): Promise<Keychain>;
  /**
   * The credentials of one named docker-registry Secret (a policy's signatureRepository.pullSecretRef).
   * Throws a SigwardError naming the secret when it is missing or unusable.
   */
  secretKeychain?(ref: { readonly namespace: string; readonly name: string }): Promise<Keychain>;
}

/** A public key held in a Secret (authorities with `key.secretRef`). */
export interface PublicKeySource {
  publicKey(ref: {
    readonly namespace: string;
    readonly name: string;
    readonly key: string;
  }): Promise<KeyObject>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };

/** What the engine reports, for metrics and logs (telemetry is wired by cli/). */
export interface EngineObserver {
  /** One verification actually run (a cache miss), per authority outcome. */
  verification?(labels: { policy: string; authority: string; result: string; reason: string }): void;
  /** How long one verification (discovery, fetches, crypto) of one policy took, queueing included. */
  verificationTime?(policy: string, seconds: number): void;
  cacheLookup?(cache: 'verdict' | 'attestation' | 'digest', result: 'hit' | 'miss' | 'shared'): void;
  /** One required attestation checked (a cache miss): labels are policy and attestation names. */
  attestation?(labels: {
    policy: string;
    authority: string;
    attestation: string;
    result: string;
    reason: string;
  }): void;
  /** An image admitted only because errors are configured to allow. */
  failOpen?(reason: string): void;
  /**
   * What one real (not dry-run) validating review found wrong, once per outcome (deny, warn, audit):
   * cli/ logs it and records it as a Kubernetes Event on the workload.
   */
  finding?(finding: AdmissionFinding): void;
}

/** The workload named in the review, and the failed (image, policy) results of one outcome. */
export interface AdmissionFinding {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  /** Empty for an object created with generateName before the apiserver named it. */
  readonly name: string;
  /** The object's uid when the review carries one (on CREATE, the one it would get if admitted). */
  readonly uid?: string;
  readonly outcome: 'deny' | 'warn' | 'audit';
  /** One line per failed result: `image X in spec.containers[0].image: policy P: … [CODE]`. */
  readonly failures: readonly string[];
}
