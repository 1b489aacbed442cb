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

/**
 * Throws SIGSTORE_BUNDLE_MALFORMED for non-canonical certificates or timestamps, or a root in the bundle.
 * Returns OpenSSL's reading of the signing certificate (its key is decoded already), if there is one.
 */
export function checkStrictMaterial(bundle: Bundle): X509Certificate | undefined {
  checkTimestamps(bundle);
  return checkCertificates(bundle);
}

function checkTimestamps(bundle: Bundle): void {
  const timestamps = bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps ?? [];
  timestamps.forEach(({ signedTimestamp }, i) => {
    const bytes = Buffer.from(signedTimestamp);
    let obj: ASN1Obj;
    try {
      obj = readDer(bytes);
    } catch (cause) {
      throw malformed(`RFC 3161 timestamp ${i} is not DER`, cause);
    }
    if (obj.tag.toDER() !== 0x30 || !encodeDer(obj).equals(bytes))
      throw malformed(`RFC 3161 timestamp ${i} is not a DER SEQUENCE`);
  });
}

function checkCertificates(bundle: Bundle): X509Certificate | undefined {
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
