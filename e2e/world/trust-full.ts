// Trust material of the full tier: what trust.ts describes, plus the two logs only this tier runs:
// - Rekor v1, an RFC 6962-style log whose entries carry a SET; found by `logId` (SHA-256 of its DER
//   SPKI), no checkpoint key ID (its checkpoints are signed by `rekor_server.hostname`, a substring of
//   its baseUrl);
// - the CT log (TesseraCT) under `ctlogs`, whose SCTs Fulcio now embeds: a verifier with
//   `ctlogThreshold` 1 must find the SCT's log ID there.
// `withFullTier` adds them (and the full tier's own Fulcio CA) to any trusted root: one root for a world
// that runs both tiers is `withFullTier(trustedRootFor(sigstore.trustInputs), full.trustInputs)`.
// `legacyTrustedRoot` is the smallest root for the legacy half alone (Fulcio with CT + Rekor v1), which
// cosign v2 signs against.
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  HashAlgorithm,
  PublicKeyDetails,
  ServiceSelector,
  SigningConfig,
  TrustedRoot,
  type TransparencyLogInstance,
} from '@sigstore/protobuf-specs';
import { signingConfigMediaType, trustedRootMediaType } from './trust.ts';

const operator = 'sigward-e2e';

/** A log known by its ECDSA P-256 key: Rekor v1 (rekor-v1.ts) and the CT log (ctlog.ts) both are. */
export interface EcdsaLog {
  url: string;
  publicKeyDer: Buffer;
  /** SHA-256 of `publicKeyDer`. */
  logId: Buffer;
}

export interface FullTierTrust {
  /** The full tier's Fulcio (the one that submits to the CT log): URL and chain, leaf-most first. */
  fulcio?: { url: string; chainPem: readonly string[] };
  rekorV1?: EcdsaLog;
  ctlog?: EcdsaLog;
  /** Start of the validity windows: before anything was signed. */
  validFrom: Date;
}

export interface LegacyTrustInputs {
  fulcio: { url: string; chainPem: readonly string[] };
  rekorV1: EcdsaLog;
  ctlog: EcdsaLog;
  validFrom: Date;
}

export interface FullTrustMaterial {
  trustedRootPath: string;
  signingConfigPath: string;
  trustedRoot: TrustedRoot;
  /** The proto-JSON document as written. */
  trustedRootJson: Record<string, unknown>;
}

function ecdsaLogInstance(log: EcdsaLog, validFrom: Date): TransparencyLogInstance {
  return {
    baseUrl: log.url,
    hashAlgorithm: HashAlgorithm.SHA2_256,
    publicKey: {
      rawBytes: log.publicKeyDer,
      keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
      validFor: { start: validFrom },
    },
    logId: { keyId: log.logId },
    checkpointKeyId: undefined,
    operator,
  };
}

/** The trusted root's `tlogs` entry for Rekor v1. */
export const rekorV1LogInstance = ecdsaLogInstance;
/** The trusted root's `ctlogs` entry for the CT log. */
export const ctLogInstance = ecdsaLogInstance;

/** A copy of `root` that also trusts the full tier's Fulcio CA, Rekor v1 and CT log (those given). */
export function withFullTier(root: TrustedRoot, parts: FullTierTrust): TrustedRoot {
  const start = parts.validFrom;
  const ca = parts.fulcio && {
    subject: { organization: 'sigward-e2e', commonName: 'sigward e2e fulcio (full tier)' },
    uri: parts.fulcio.url,
    certChain: {
      certificates: parts.fulcio.chainPem.map((pem) => ({ rawBytes: new X509Certificate(pem).raw })),
    },
    validFor: { start },
    operator,
  };
  return {
    ...root,
    certificateAuthorities: [...root.certificateAuthorities, ...(ca ? [ca] : [])],
    tlogs: [...root.tlogs, ...(parts.rekorV1 ? [rekorV1LogInstance(parts.rekorV1, start)] : [])],
    ctlogs: [...root.ctlogs, ...(parts.ctlog ? [ctLogInstance(parts.ctlog, start)] : [])],
  };
}

/** Fulcio (its chain leaf-most first, root included), Rekor v1 and the CT log; no TSA, no Rekor v2. */
export function legacyTrustedRoot(inputs: LegacyTrustInputs): TrustedRoot {
  const empty: TrustedRoot = {
    mediaType: trustedRootMediaType,
    certificateAuthorities: [],
    tlogs: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
  return withFullTier(empty, inputs);
}

/** Where a legacy signer goes: Fulcio and Rekor v1 (API v1); timestamps come from Rekor's SET. */
export function legacySigningConfig(inputs: LegacyTrustInputs): SigningConfig {
  const validFor = { start: inputs.validFrom };
  return {
    mediaType: signingConfigMediaType,
    caUrls: [{ url: inputs.fulcio.url, majorApiVersion: 1, validFor, operator }],
    oidcUrls: [],
    rekorTlogUrls: [{ url: inputs.rekorV1.url, majorApiVersion: 1, validFor, operator }],
    rekorTlogConfig: { selector: ServiceSelector.ANY, count: 0 },
    tsaUrls: [],
    // No TSA config at all: with one, clients (@sigstore/sign) insist on finding a TSA.
    tsaConfig: undefined,
  };
}

/** Writes a trusted root as proto-JSON; returns the document. */
export function writeTrustedRoot(file: string, root: TrustedRoot): Record<string, unknown> {
  const json = TrustedRoot.toJSON(root) as Record<string, unknown>;
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  return json;
}

/** Writes trusted_root.json and signing_config.json of a legacy world into `dir`. */
export function writeLegacyTrustMaterial(dir: string, inputs: LegacyTrustInputs): FullTrustMaterial {
  const trustedRoot = legacyTrustedRoot(inputs);
  const trustedRootPath = path.join(dir, 'trusted_root.json');
  const signingConfigPath = path.join(dir, 'signing_config.json');
  const trustedRootJson = writeTrustedRoot(trustedRootPath, trustedRoot);
  const signingConfigJson = SigningConfig.toJSON(legacySigningConfig(inputs));
  writeFileSync(signingConfigPath, `${JSON.stringify(signingConfigJson, null, 2)}\n`);
  return { trustedRootPath, signingConfigPath, trustedRoot, trustedRootJson };
}
