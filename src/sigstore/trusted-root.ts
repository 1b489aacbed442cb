// One trusted_root.json → an immutable snapshot: the parsed TrustedRoot, the library's TrustMaterial
// built once, and a version (sha256 of the exact bytes) that cache keys include.
// sigward is stricter than the library here: every authority must state when it became valid
// (`validFor.start`). Without it the library treats the authority as valid since the beginning of
// time, so a log or CA key could vouch for signatures older than the key (conformance case
// trust-root-tlog-missing-validity-start_fail).
import { createHash } from 'node:crypto';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial } from '@sigstore/verify';
import type { TrustMaterial } from '@sigstore/verify';
import { CachedCertificate } from './cached-certificate.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

export const TRUSTED_ROOT_MEDIA_TYPE_PREFIX = 'application/vnd.dev.sigstore.trustedroot';

/** sha256 of the trusted_root.json bytes, `sha256:<hex>`. */
export type TrustRootVersion = string;

export interface TrustRootSnapshot {
  readonly version: TrustRootVersion;
  readonly trustedRoot: TrustedRoot;
  readonly material: TrustMaterial;
  /** Where it came from, for status and logs ("tuf:<mirror>", "embedded", "file:<path>"). */
  readonly source: string;
}

function invalid(message: string, cause?: unknown): SigstoreError {
  return new SigstoreError(SigstoreErrorCode.trustRootInvalid, message, cause === undefined ? {} : { cause });
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function requireStart(validFor: unknown, where: string): void {
  if (!isRecord(validFor) || typeof validFor.start !== 'string' || Number.isNaN(Date.parse(validFor.start))) {
    throw invalid(`the trusted root is unsafe: ${where} has no validFor.start`);
  }
}

/** Structural checks the library skips. Throws SIGSTORE_TRUST_ROOT_INVALID. */
export function checkTrustedRootJson(json: unknown): void {
  if (!isRecord(json)) throw invalid('the trusted root is not a JSON object');
  const mediaType = json.mediaType;
  if (typeof mediaType !== 'string' || !mediaType.startsWith(TRUSTED_ROOT_MEDIA_TYPE_PREFIX)) {
    throw invalid(`the trusted root has an unknown mediaType: ${String(mediaType)}`);
  }
  const list = (name: string): Json[] => {
    const v = json[name];
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every(isRecord))
      throw invalid(`the trusted root field ${name} is not a list of objects`);
    return v;
  };
  for (const [name, entries] of [
    ['tlogs', list('tlogs')],
    ['ctlogs', list('ctlogs')],
  ] as const) {
    entries.forEach((e, i) => {
      const key = e.publicKey;
      requireStart(
        isRecord(key) ? key.validFor : undefined,
        `${name}[${i}] (${String(e.baseUrl ?? 'no baseUrl')})`,
      );
    });
  }
  for (const [name, entries] of [
    ['certificateAuthorities', list('certificateAuthorities')],
    ['timestampAuthorities', list('timestampAuthorities')],
  ] as const) {
    entries.forEach((e, i) => requireStart(e.validFor, `${name}[${i}] (${String(e.uri ?? 'no uri')})`));
  }
}

/** Parses and checks trusted_root.json bytes into a snapshot. */
export function loadTrustRoot(bytes: Uint8Array, source: string): TrustRootSnapshot {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw invalid('the trusted root is not valid JSON', cause);
  }
  checkTrustedRootJson(json);
  let trustedRoot: TrustedRoot;
  let material: TrustMaterial;
  try {
    trustedRoot = TrustedRoot.fromJSON(json);
    material = withCachedCertificates(toTrustMaterial(trustedRoot));
  } catch (cause) {
    throw invalid(
      `the trusted root cannot be read: ${cause instanceof Error ? cause.message : String(cause)}`,
      cause,
    );
  }
  const version = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return { version, trustedRoot, material, source };
}

/**
 * The same material with every CA and TSA certificate a CachedCertificate: the chains inside a trusted
 * root are then checked once per root version (the snapshot), not once per verified bundle.
 */
type CertAuthority = TrustMaterial['certificateAuthorities'][number];

function withCachedCertificates(material: TrustMaterial): TrustMaterial {
  const cached = (authority: CertAuthority): CertAuthority => ({
    ...authority,
    certChain: authority.certChain.map((cert) => CachedCertificate.of(cert)),
  });
  return {
    ...material,
    certificateAuthorities: material.certificateAuthorities.map(cached),
    timestampAuthorities: material.timestampAuthorities.map(cached),
  };
}
