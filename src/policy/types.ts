// The policy custom resources as they arrive from the API server or a YAML file: group
// policy.sigward.dev, version v1alpha1, kinds ClusterImagePolicy, ImagePolicy and TrustRoot. These
// types describe the WIRE shape, so everything is optional or loosely typed where the API server could
// hand us something else; compile.ts checks every field and turns a resource into an immutable
// CompiledPolicy (or field-path errors for the status condition). The CRD schemas in
// charts/sigward/crds/ describe the same shape (test/policy/crd-schema.test.ts keeps both in step).
import type { IdentitySpec, ValueMatcherSpec } from './identity.ts';

export const POLICY_GROUP = 'policy.sigward.dev';
export const POLICY_VERSION = 'v1alpha1';
export const POLICY_API_VERSION = `${POLICY_GROUP}/${POLICY_VERSION}`;

export type PolicyKind = 'ClusterImagePolicy' | 'ImagePolicy';
export const POLICY_KINDS: readonly PolicyKind[] = ['ClusterImagePolicy', 'ImagePolicy'];

/** enforce: a failure denies. warn: admitted with a kubectl warning. audit: admitted, logged/counted. */
export type PolicyMode = 'enforce' | 'warn' | 'audit';
export const POLICY_MODES: readonly PolicyMode[] = ['enforce', 'warn', 'audit'];

/**
 * How an image index counts. digest: the admitted digest itself must be signed (default). index: for
 * `repository:tag@digest`, a signature on the index the tag names (resolved at admission) also counts
 * if that index lists the digest; a digest without a tag has no index to find. all-platforms: when the
 * admitted digest is an index, every runnable platform manifest it lists must be signed, and an index
 * with none (empty, or only unknown/unknown attestation entries) is refused.
 */
export type MultiArchRule = 'digest' | 'index' | 'all-platforms';
export const MULTI_ARCH_RULES: readonly MultiArchRule[] = ['digest', 'index', 'all-platforms'];

/** The name of the default TrustRoot (Sigstore public-good instance via TUF). */
export const PUBLIC_GOOD_TRUST_ROOT = 'public-good';

export interface ObjectMetaSpec {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
}

/** A keyless identity: issuer and subject, exact or RE2 (always anchored), plus Fulcio extensions. */
export type KeylessIdentitySpec = IdentitySpec;
export type { IdentitySpec, ValueMatcherSpec };

export interface KeylessSpec {
  /** A signature passes when its certificate matches ANY of these identities. */
  readonly identities?: readonly KeylessIdentitySpec[];
  /** cosign --insecure-ignore-sct: accept certificates without a CT log proof (private Fulcio). */
  readonly insecureIgnoreSCT?: boolean;
}

export interface SecretKeyRef {
  readonly name?: string;
  /** Default: the policy's namespace (ImagePolicy) or sigward's own namespace (ClusterImagePolicy). */
  readonly namespace?: string;
  /** Data key in the Secret. Default `cosign.pub`. Re-read every 5 s at most (kube/public-keys.ts). */
  readonly key?: string;
}

export interface KeySpec {
  /** A PEM public key (`-----BEGIN PUBLIC KEY-----`). Exactly one of data and secretRef. */
  readonly data?: string;
  readonly secretRef?: SecretKeyRef;
}

/**
 * An in-toto attestation the image must carry, signed by the authority: its predicate type (a URI or one
 * of cosign's short names) and CEL conditions that must all hold on one such statement.
 */
export interface AttestationSpec {
  /** Unique within the authority; shown in denials and metrics. */
  readonly name?: string;
  readonly predicateType?: string;
  /** CEL over `predicate`, `predicateType`, `subject`, `signer`, `now`; all must be true. Optional. */
  readonly conditions?: readonly string[];
}

export interface AuthoritySpec {
  /** Unique within the policy; shown in denials. */
  readonly name?: string;
  /** Exactly one of keyless and key. */
  readonly keyless?: KeylessSpec;
  readonly key?: KeySpec;
  /** A TrustRoot by name. Default `public-good`. */
  readonly trustRootRef?: string;
  /** cosign --insecure-ignore-tlog: no transparency log entry needed (time from a TSA only). */
  readonly insecureIgnoreTlog?: boolean;
  /**
   * When set, the authority is satisfied by attestations instead of an image signature: every listed
   * attestation must be found, signed by this authority, about the admitted digest, its conditions true.
   */
  readonly attestations?: readonly AttestationSpec[];
}

export interface LocalObjectRef {
  readonly name?: string;
}

export interface SignatureRepositorySpec {
  /** Where the signatures live instead of next to the image, e.g. `ghcr.io/o/signatures`. */
  readonly repository?: string;
  /**
   * A docker-registry Secret whose credentials read `repository` only (the image is read with the
   * workload's): in the ImagePolicy's namespace, or sigward's own for a ClusterImagePolicy.
   */
  readonly pullSecretRef?: LocalObjectRef;
}

export interface ImagePolicySpec {
  /** Globs over `registry/repository` (Docker Hub normalised): `*` within a segment, `**` across. */
  readonly images?: readonly string[];
  /** Default enforce. */
  readonly mode?: PolicyMode;
  readonly authorities?: readonly AuthoritySpec[];
  /** How many DISTINCT authorities must pass (not signatures; one signature may satisfy several). Default 1. */
  readonly threshold?: number;
  /** Default digest. */
  readonly multiArch?: MultiArchRule;
  readonly signatureRepository?: SignatureRepositorySpec;
}

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
}

export interface PolicyStatus {
  readonly observedGeneration?: number;
  readonly conditions?: readonly Condition[];
}

/** A ClusterImagePolicy or an ImagePolicy as read from the API or YAML (unchecked). */
export interface ImagePolicyResource {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMetaSpec;
  readonly spec?: ImagePolicySpec;
  readonly status?: PolicyStatus;
}

export interface ConfigMapKeyRef {
  readonly name?: string;
  /** Default: sigward's own namespace. */
  readonly namespace?: string;
  /** Default `trusted_root.json`. */
  readonly key?: string;
}

export interface TrustRootSpec {
  /** Exactly one source. The Sigstore public-good instance through its TUF repository. */
  readonly publicGood?: Record<string, never>;
  /** A TUF mirror and the initial root.json (JSON text) that bootstraps trust in it. */
  readonly tuf?: { readonly mirror?: string; readonly root?: string };
  /** A trusted_root.json (sigstore protobuf-specs TrustedRoot) inline, as JSON text. */
  readonly trustedRoot?: string;
  /** A trusted_root.json in a ConfigMap. */
  readonly configMapRef?: ConfigMapKeyRef;
}

export interface TrustRootResource {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: ObjectMetaSpec;
  readonly spec?: TrustRootSpec;
  readonly status?: PolicyStatus;
}
