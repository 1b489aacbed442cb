// What sigward decided about one image at one field of a manifest, and the words a developer reads in
// kubectl. Pure and tiny: admission/ imports only this file of policy/ (respond.ts turns decisions
// into an AdmissionResponse), evaluate.ts makes them.
//
//   ReasonCode           one stable category per result (SIGNATURE_MISSING, IDENTITY_MISMATCH, ...)
//   ERROR_REASONS        the categories that mean "could not tell" (registry, timeout, trust root)
//   Outcome              allow | warn | audit | deny
//   PolicyResult         one policy's (or the global setting's) verdict on one image
//   ImageDecision        every result for one image site, and the combined outcome
//   combineOutcomes()    deny > warn > audit > allow
//   failureMessage()     "image X (digest D) in spec.containers[0].image: policy P, authority A: ... [CODE]"
//   warningMessage()     the same, clipped to the API server's per-warning limit

export const ReasonCode = {
  /** Signed as required. */
  verified: 'VERIFIED',
  /** No signature at all where we looked. */
  signatureMissing: 'SIGNATURE_MISSING',
  /** Signed by a certificate whose subject (or a Fulcio extension) is not an accepted identity. */
  identityMismatch: 'IDENTITY_MISMATCH',
  /** Signed by a certificate from another OIDC issuer. */
  issuerMismatch: 'ISSUER_MISMATCH',
  /** Signed with a key that is not the authority's key (or keyless where a key was required). */
  keyMismatch: 'KEY_MISMATCH',
  /** A signature that does not verify: broken crypto, malformed bundle, signs other content. */
  signatureInvalid: 'SIGNATURE_INVALID',
  /** The certificate does not chain to the trust root, or its SCT does not verify. */
  certificateUntrusted: 'CERTIFICATE_UNTRUSTED',
  /** The transparency log entry or timestamp is missing or does not verify. */
  tlogInvalid: 'TLOG_INVALID',
  /** Some authorities passed, but fewer distinct authorities than the threshold. */
  thresholdNotMet: 'THRESHOLD_NOT_MET',
  /** A required attestation (authorities[].attestations) was not found, signed or about this digest. */
  attestationMissing: 'ATTESTATION_MISSING',
  /** A required attestation was found and signed, but one of its CEL conditions is false (or errs). */
  attestationConditionFailed: 'ATTESTATION_CONDITION_FAILED',
  /** multiArch rules: a platform manifest is unsigned, or the index does not list the image. */
  platformNotSigned: 'PLATFORM_NOT_SIGNED',
  indexMismatch: 'INDEX_MISMATCH',
  /** all-platforms: the index lists no runnable platform (empty, or only unknown/unknown entries). */
  indexWithoutPlatforms: 'INDEX_WITHOUT_PLATFORMS',
  /** The registry failed (network, 5xx, protocol): whether the image is signed is unknown. */
  registryError: 'REGISTRY_ERROR',
  /** The registry refused our credentials (401/403). */
  registryAuth: 'REGISTRY_AUTH',
  /** The deadline ran out before a verdict. */
  timeout: 'TIMEOUT',
  /** The trust root (TUF, TrustRoot resource) is unavailable or invalid. */
  trustRootError: 'TRUST_ROOT_ERROR',
  /** No policy matches the image and the global setting is not allow. */
  noPolicy: 'NO_POLICY',
  /** A matching policy does not compile (see its Ready condition): fail closed in its mode. */
  policyInvalid: 'POLICY_INVALID',
  /** The image reference cannot be parsed. */
  imageInvalid: 'IMAGE_INVALID',
  /** A bug or an unexpected failure inside sigward: never an allow. */
  internalError: 'INTERNAL_ERROR',
} as const;
export type ReasonCode = (typeof ReasonCode)[keyof typeof ReasonCode];

/** Categories where the truth is unknown: the global failure setting may soften them. */
export const ERROR_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  ReasonCode.registryError,
  ReasonCode.registryAuth,
  ReasonCode.timeout,
  ReasonCode.trustRootError,
  ReasonCode.internalError,
]);

export type Outcome = 'allow' | 'audit' | 'warn' | 'deny';
const OUTCOME_RANK: Readonly<Record<Outcome, number>> = { allow: 0, audit: 1, warn: 2, deny: 3 };

/** The strongest outcome: deny > warn > audit > allow (no results → allow). */
export function combineOutcomes(outcomes: Iterable<Outcome>): Outcome {
  let best: Outcome = 'allow';
  for (const o of outcomes) if (OUTCOME_RANK[o] > OUTCOME_RANK[best]) best = o;
  return best;
}

/** One policy's verdict on one image (or the global setting's, when no policy matched). */
export interface PolicyResult {
  /** `name` for a ClusterImagePolicy, `namespace/name` for an ImagePolicy; undefined: global setting. */
  readonly policy?: string;
  readonly mode: 'enforce' | 'warn' | 'audit';
  readonly passed: boolean;
  readonly reason: ReasonCode;
  /** What this result contributes: allow when passed, else the mode's outcome. */
  readonly outcome: Outcome;
  /** The authority the reason is about. */
  readonly authority?: string;
  /** Identity results: what the authority accepts and what the certificate said. */
  readonly expected?: string;
  readonly found?: string;
  /** The rest, in words (no trailing period). */
  readonly detail: string;
  /** The underlying code (sigstore / registry), for logs and metrics. */
  readonly cause?: string;
}

/** Everything decided about one image site of the request. */
export interface ImageDecision {
  /** Field path in the admitted object: `spec.template.spec.containers[0].image`. */
  readonly field: string;
  /** The image as written in the manifest. */
  readonly image: string;
  /** The digest that was verified, when known. */
  readonly digest?: string;
  readonly outcome: Outcome;
  readonly results: readonly PolicyResult[];
}

// Strings from manifests and certificates may be hostile: no control characters, bounded length.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
export function clip(text: string, max: number): string {
  const clean = text.replace(CONTROL, '?');
  return clean.length <= max ? clean : `${clean.slice(0, Math.max(0, max - 1))}…`;
}

function imagePart(decision: Pick<ImageDecision, 'field' | 'image' | 'digest'>, imageMax: number): string {
  // `repo@sha256:X (digest sha256:X)` says nothing twice: the digest is shown only when the reference
  // does not already end with it (a tag, or a different digest such as the platform's under an index).
  const named = decision.digest === undefined || decision.image.endsWith(`@${decision.digest}`);
  const digest = named ? '' : ` (digest ${decision.digest})`;
  return `image ${clip(decision.image, imageMax)}${digest} in ${clip(decision.field, 200)}`;
}

/** `expected …, found …` for identity results, else the detail. */
export function reasonText(result: PolicyResult): string {
  if (result.expected !== undefined && result.found !== undefined)
    return `expected ${result.expected}, found ${result.found}`;
  return result.detail;
}

/**
 * The full sentence for one failed result, e.g. `image registry.example.com/apps/api:1.2 (digest
 * sha256:…) in spec.containers[0].image: policy signed-by-ci-job, authority keyless-signing-job:
 * expected subject "…" from issuer "…", found subject "…" from issuer "…" [IDENTITY_MISMATCH]`.
 */
export function failureMessage(
  decision: Pick<ImageDecision, 'field' | 'image' | 'digest'>,
  result: PolicyResult,
): string {
  const who =
    result.policy === undefined
      ? ''
      : ` policy ${clip(result.policy, 253)}${result.authority === undefined ? '' : `, authority ${clip(result.authority, 100)}`}:`;
  return `${imagePart(decision, 512)}:${who} ${clip(reasonText(result), 1024)} [${result.reason}]`;
}

/** Kubernetes truncates a warning above 256 characters; the reason code is kept at the end. */
export const WARNING_MAX = 256;

/** A kubectl warning for a failed result of a warn-mode policy, at most WARNING_MAX characters. */
export function warningMessage(
  decision: Pick<ImageDecision, 'field' | 'image' | 'digest'>,
  result: PolicyResult,
): string {
  const tail = ` [${result.reason}]`;
  // Bounded parts (at most ~211 characters) leave room for the reason and keep the code at the end.
  const who = result.policy === undefined ? '' : ` policy ${clip(result.policy, 40)} (${result.mode}):`;
  const head = `image ${clip(decision.image, 80)} in ${clip(decision.field, 60)}:${who} `;
  const room = WARNING_MAX - head.length - tail.length;
  return `${head}${clip(reasonText(result), Math.max(room, 1))}${tail}`.slice(0, WARNING_MAX);
}
