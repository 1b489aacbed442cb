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
import { ASN1Obj } from '@sigstore/core';
import type { Bundle } from './bundle.ts';
import { encodeDer, parseQuietly } from './der.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

function malformed(message: string, cause?: unknown): SigstoreError {
  return new SigstoreError(SigstoreErrorCode.bundleMalformed, message, cause === undefined ? {} : { cause });
}

function strict(rawBytes: Uint8Array, what: string): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(rawBytes));
  } catch (cause) {
    throw malformed(`${what} is not a DER certificate`, cause);
  }
  if (!cert.raw.equals(Buffer.from(rawBytes))) throw malformed(`${what} is not in canonical DER`);
  return cert;
}

/** Throws SIGSTORE_BUNDLE_MALFORMED for non-canonical certificates or timestamps, or a root in the bundle. */
export function checkStrictMaterial(bundle: Bundle): void {
  checkTimestamps(bundle);
  checkCertificates(bundle);
}

function checkTimestamps(bundle: Bundle): void {
  const timestamps = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps ?? [];
  timestamps.forEach(({ signedTimestamp }, i) => {
    const bytes = Buffer.from(signedTimestamp);
    let obj: ASN1Obj;
    try {
      obj = parseQuietly(() => ASN1Obj.parseBuffer(bytes));
    } catch (cause) {
      throw malformed(`RFC 3161 timestamp ${i} is not DER`, cause);
    }
    if (obj.tag.toDER() !== 0x30 || !encodeDer(obj).equals(bytes))
      throw malformed(`RFC 3161 timestamp ${i} is not a DER SEQUENCE`);
  });
}

function checkCertificates(bundle: Bundle): void {
  const material = bundle.verificationMaterial.content;
  if (material.$case === 'certificate') {
    strict(material.certificate.rawBytes, 'the signing certificate');
    return;
  }
  if (material.$case !== 'x509CertificateChain') return;
  const { certificates } = material.x509CertificateChain;
  if (certificates.length === 0) throw malformed('the bundle has an empty certificate chain');
  certificates.forEach(({ rawBytes }, i) => {
    const cert = strict(rawBytes, i === 0 ? 'the signing certificate' : `chain certificate ${i}`);
    if (cert.ca && cert.checkIssued(cert)) {
      throw malformed('the bundle includes a root certificate; trust comes only from the trusted root');
    }
  });
}
