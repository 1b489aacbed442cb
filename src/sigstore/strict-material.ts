// Verification material the library is lenient about, checked before it sees it:
//  - strict DER: each one must parse with OpenSSL (node:crypto) and re-encode to exactly the same
//    bytes. The library's own ASN.1 reader is lenient (it accepted a leaf whose outer SEQUENCE tag was
//    flipped, because only the signed TBS part matters to it); sigward wants one encoding per
//    certificate so nothing downstream (logs, caches, identity) sees a malleable copy;
//  - no root: trust comes from the trusted root only (protobuf-specs: a bundle "MUST NOT include the
//    root"; conformance bundle-with-root-cert_fail);
//  - RFC 3161 responses must be a DER SEQUENCE (the library ignores the outer tag, so a flipped tag
//    gave a second accepted encoding of the same token).
import { X509Certificate } from 'node:crypto';
import type { ASN1Obj } from '@sigstore/core';
import type { Bundle } from './bundle.ts';
import { encodeDer } from './der.ts';
import { readDer } from './der-reader.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

function malformed(message: string, cause?: unknown): SigstoreError {
  return new SigstoreError(SigstoreErrorCode.bundleMalformed, message, cause === undefined ? {} : { cause });
}

/** A view of the bytes, as a Buffer (no copy; the bundle's bytes are Buffers already). */
const view = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function strict(rawBytes: Uint8Array, what: string): X509Certificate {
  const bytes = view(rawBytes);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(bytes);
  } catch (cause) {
    throw malformed(`${what} is not a DER certificate`, cause);
  }
  if (!cert.raw.equals(bytes)) throw malformed(`${what} is not in canonical DER`);
  return cert;
}

export interface StrictMaterial {
  /** OpenSSL's reading of the signing certificate (its key is decoded already), if there is one. */
  readonly leaf?: X509Certificate;
  /** The RFC 3161 tokens as read here (DerObj trees), in the bundle's order. */
  readonly tokens: readonly ASN1Obj[];
}

/** Throws SIGSTORE_BUNDLE_MALFORMED for non-canonical certificates or timestamps, or a root in the bundle. */
export function checkStrictMaterial(bundle: Bundle): StrictMaterial {
  const tokens = checkTimestamps(bundle);
  const leaf = checkCertificates(bundle);
  return leaf === undefined ? { tokens } : { leaf, tokens };
}

function checkTimestamps(bundle: Bundle): ASN1Obj[] {
  const timestamps = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps ?? [];
  return timestamps.map(({ signedTimestamp }, i) => {
    const bytes = view(signedTimestamp);
    let obj: ASN1Obj;
    try {
      obj = readDer(bytes);
    } catch (cause) {
      throw malformed(`RFC 3161 timestamp ${i} is not DER`, cause);
    }
    if (obj.tag.toDER() !== 0x30 || !encodeDer(obj).equals(bytes))
      throw malformed(`RFC 3161 timestamp ${i} is not a DER SEQUENCE`);
    return obj;
  });
}

function checkCertificates(bundle: Bundle): StrictMaterial['leaf'] {
  const material = bundle.verificationMaterial.content;
  if (material.$case === 'certificate')
    return strict(material.certificate.rawBytes, 'the signing certificate');
  if (material.$case !== 'x509CertificateChain') return undefined;
  const { certificates } = material.x509CertificateChain;
  if (certificates.length === 0) throw malformed('the bundle has an empty certificate chain');
  const read = certificates.map(({ rawBytes }, i) => {
    const cert = strict(rawBytes, i === 0 ? 'the signing certificate' : `chain certificate ${i}`);
    if (cert.ca && cert.checkIssued(cert)) {
      throw malformed('the bundle includes a root certificate; trust comes only from the trusted root');
    }
    return cert;
  });
  return read[0];
}
