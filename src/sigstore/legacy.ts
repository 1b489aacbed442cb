// cosign's legacy layer (a `.sig` / `.att` manifest layer: blob + annotations) ⇄ a Sigstore bundle that
// @sigstore/verify accepts. Mapping: shared/notes/sigstore-formats.md §3.2; annotation keys: layout.ts.
// The bundle is labelled v0.1 because the Rekor annotation carries only a promise (SET), no proof.
// Trust never comes from the layer: the chain annotation is ignored (the trusted root supplies the
// intermediates and the root), only the leaf certificate is used.
// Attestations (.att): the RFC 3161 annotation is dropped, because cosign timestamps the whole envelope
// JSON there while the library checks DSSE timestamps against the signature bytes.
import { createHash } from 'node:crypto';
import { bundleFromJSON, BUNDLE_V01_MEDIA_TYPE } from '@sigstore/bundle';
import type { Bundle } from '@sigstore/bundle';
import { ANNOTATION, DSSE_ENVELOPE_MEDIA_TYPE, SIMPLE_SIGNING_MEDIA_TYPE } from './layout.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

/** One layer of a legacy signature manifest, with its blob already fetched and digest-checked. */
export interface LegacyLayer {
  readonly mediaType: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** The layer blob: the simple-signing payload, or the DSSE envelope JSON. */
  readonly blob: Uint8Array;
}

export interface LegacySignature {
  readonly bundle: Bundle;
  /** The signed bytes of a simple-signing layer (verify with content `{kind: 'image', payload}`). */
  readonly payload?: Uint8Array;
}

function malformed(message: string, cause?: unknown): SigstoreError {
  return new SigstoreError(
    SigstoreErrorCode.bundleMalformed,
    `legacy cosign layer: ${message}`,
    cause === undefined ? {} : { cause },
  );
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** An annotation's JSON value; SIGSTORE_BUNDLE_MALFORMED (`<what> is not JSON`) when it is not JSON. */
function annotationJson(annotation: string, what: string): unknown {
  try {
    return JSON.parse(annotation) as unknown;
  } catch (cause) {
    throw malformed(`${what} is not JSON`, cause);
  }
}

function base64(value: string, what: string): string {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length % 4 !== 0 || !BASE64.test(trimmed))
    throw malformed(`${what} is not base64`);
  return trimmed;
}

/** PEM leaf certificate → base64 DER. */
function pemToBase64Der(pem: string): string {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw malformed('the certificate annotation holds no PEM certificate');
  return base64(m[1]!.replace(/\s+/g, ''), 'the certificate');
}

/** `dev.sigstore.cosign/bundle` (Rekor SET) → a bundle tlog entry (proto-JSON). */
export function rekorBundleToTlogEntry(annotation: string): Json {
  const parsed = annotationJson(annotation, 'the Rekor bundle annotation');
  const set = isRecord(parsed) ? parsed.SignedEntryTimestamp : undefined;
  const payload = isRecord(parsed) ? parsed.Payload : undefined;
  if (typeof set !== 'string' || !isRecord(payload))
    throw malformed('the Rekor bundle lacks SignedEntryTimestamp or Payload');
  const { body, integratedTime, logIndex, logID } = payload;
  if (typeof body !== 'string' || typeof logID !== 'string' || !/^[0-9a-fA-F]+$/.test(logID)) {
    throw malformed('the Rekor bundle Payload lacks body or a hex logID');
  }
  if (!Number.isSafeInteger(integratedTime) || !Number.isSafeInteger(logIndex) || (logIndex as number) < 0) {
    throw malformed('the Rekor bundle Payload has a bad integratedTime or logIndex');
  }
  let kind: unknown, version: unknown;
  try {
    const decoded: unknown = JSON.parse(
      Buffer.from(base64(body, 'the Rekor body'), 'base64').toString('utf8'),
    );
    if (isRecord(decoded)) [kind, version] = [decoded.kind, decoded.apiVersion];
  } catch (cause) {
    throw malformed('the Rekor body is not base64 JSON', cause);
  }
  if (typeof kind !== 'string' || typeof version !== 'string')
    throw malformed('the Rekor body has no kind or apiVersion');
  return {
    logIndex: String(logIndex),
    logId: { keyId: Buffer.from(logID, 'hex').toString('base64') },
    kindVersion: { kind, version },
    integratedTime: String(integratedTime),
    inclusionPromise: { signedEntryTimestamp: base64(set, 'the SignedEntryTimestamp') },
    canonicalizedBody: body,
  };
}

function rfc3161(annotation: string | undefined): Json[] {
  if (annotation === undefined) return [];
  const parsed = annotationJson(annotation, 'the RFC 3161 annotation');
  const ts = isRecord(parsed) ? parsed.SignedRFC3161Timestamp : undefined;
  if (typeof ts !== 'string') throw malformed('the RFC 3161 annotation lacks SignedRFC3161Timestamp');
  return [{ signedTimestamp: base64(ts, 'the RFC 3161 timestamp') }];
}

function verificationMaterial(annotations: Readonly<Record<string, string>>, timestamps: Json[]): Json {
  const certificate = annotations[ANNOTATION.certificate];
  const rekor = annotations[ANNOTATION.rekorBundle];
  const content =
    certificate !== undefined && certificate.trim() !== ''
      ? { x509CertificateChain: { certificates: [{ rawBytes: pemToBase64Der(certificate) }] } }
      : { publicKey: { hint: '' } };
  return {
    ...content,
    tlogEntries: rekor === undefined ? [] : [rekorBundleToTlogEntry(rekor)],
    timestampVerificationData: { rfc3161Timestamps: timestamps },
  };
}

function toBundle(json: Json): Bundle {
  try {
    return bundleFromJSON(json);
  } catch (cause) {
    const fields = (cause as { fields?: unknown }).fields;
    throw malformed(
      `it does not form a valid bundle${Array.isArray(fields) ? `: ${fields.join(', ')}` : ''}`,
      cause,
    );
  }
}

/** A simple-signing layer of a `.sig` manifest → bundle + the payload bytes it signs. */
export function legacySignatureToBundle(layer: LegacyLayer): LegacySignature {
  const payload = Buffer.from(layer.blob);
  const digest = createHash('sha256').update(payload).digest();
  return { bundle: legacySignatureBundle(layer.annotations, digest), payload };
}

/**
 * legacySignatureToBundle's answer for a layer whose annotations gave `bundle` (legacySignatureBundle),
 * over these payload bytes: the same bundle, its message digest that of the bytes. For a payload
 * other than its descriptor named, read without keeping the annotations.
 */
export function legacySignatureOver(bundle: Bundle, blob: Uint8Array): LegacySignature {
  if (bundle.content.$case !== 'messageSignature') throw new Error('not a message signature bundle');
  const payload = Buffer.from(blob);
  const { messageSignature } = bundle.content;
  const digest = createHash('sha256').update(payload).digest();
  return {
    bundle: {
      ...bundle,
      content: {
        ...bundle.content,
        messageSignature: {
          ...messageSignature,
          messageDigest: { ...messageSignature.messageDigest, digest },
        },
      },
    },
    payload,
  };
}

/**
 * The bundle of a simple-signing layer whose payload has the SHA-256 `payloadDigest`, from the layer's
 * annotations alone: with the digest its descriptor names, it can be read (and verification started)
 * before the payload blob arrives. The same bundle, and the same failures, as legacySignatureToBundle.
 */
export function legacySignatureBundle(
  annotations: Readonly<Record<string, string>>,
  payloadDigest: Uint8Array,
): Bundle {
  const signature = annotations[ANNOTATION.signature];
  if (signature === undefined || signature.trim() === '')
    throw malformed('the signature annotation is missing or empty');
  return toBundle({
    mediaType: BUNDLE_V01_MEDIA_TYPE,
    verificationMaterial: verificationMaterial(
      annotations,
      rfc3161(annotations[ANNOTATION.rfc3161Timestamp]),
    ),
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(payloadDigest).toString('base64') },
      signature: base64(signature, 'the signature annotation'),
    },
  });
}

/** A DSSE layer of an `.att` manifest → bundle (the envelope is the signed content). */
export function legacyAttestationToBundle(layer: LegacyLayer): LegacySignature {
  let envelope: unknown;
  try {
    envelope = JSON.parse(Buffer.from(layer.blob).toString('utf8'));
  } catch (cause) {
    throw malformed('the attestation layer is not DSSE envelope JSON', cause);
  }
  if (!isRecord(envelope)) throw malformed('the attestation layer is not a DSSE envelope');
  const bundle = toBundle({
    mediaType: BUNDLE_V01_MEDIA_TYPE,
    verificationMaterial: verificationMaterial(layer.annotations, []),
    dsseEnvelope: envelope,
  });
  return { bundle };
}

/** Dispatches on the layer media type. */
export function legacyLayerToBundle(layer: LegacyLayer): LegacySignature {
  if (layer.mediaType === SIMPLE_SIGNING_MEDIA_TYPE) return legacySignatureToBundle(layer);
  if (layer.mediaType === DSSE_ENVELOPE_MEDIA_TYPE) return legacyAttestationToBundle(layer);
  throw new SigstoreError(
    SigstoreErrorCode.unsupported,
    `legacy cosign layer: unknown media type ${layer.mediaType}`,
  );
}
