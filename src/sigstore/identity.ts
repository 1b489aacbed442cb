// Certificate → the identity a person writes policy about: issuer, subject and the named Fulcio
// extensions. sigward compares this itself rather than use the library's subject policy (an
// unanchored regular expression). OIDs and names: sigstore/fulcio docs/oid-info.md and
// pkg/certificate/extensions.go.
import { X509Certificate } from '@sigstore/core';
import type { ASN1Obj } from '@sigstore/core';
import { CachedCertificate } from './cached-certificate.ts';
import { readDer } from './der-reader.ts';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

const FULCIO = '1.3.6.1.4.1.57264.1';

/** Fulcio extensions .1.8–.1.24, DER UTF8String values. */
export const FULCIO_EXTENSIONS = {
  issuer: `${FULCIO}.8`,
  buildSignerURI: `${FULCIO}.9`,
  buildSignerDigest: `${FULCIO}.10`,
  runnerEnvironment: `${FULCIO}.11`,
  sourceRepositoryURI: `${FULCIO}.12`,
  sourceRepositoryDigest: `${FULCIO}.13`,
  sourceRepositoryRef: `${FULCIO}.14`,
  sourceRepositoryIdentifier: `${FULCIO}.15`,
  sourceRepositoryOwnerURI: `${FULCIO}.16`,
  sourceRepositoryOwnerIdentifier: `${FULCIO}.17`,
  buildConfigURI: `${FULCIO}.18`,
  buildConfigDigest: `${FULCIO}.19`,
  buildTrigger: `${FULCIO}.20`,
  runInvocationURI: `${FULCIO}.21`,
  sourceRepositoryVisibilityAtSigning: `${FULCIO}.22`,
  deploymentEnvironment: `${FULCIO}.23`,
  tokenSubject: `${FULCIO}.24`,
} as const;

/** Deprecated Fulcio extensions .1.1–.1.6: raw bytes, not DER. */
export const FULCIO_LEGACY_EXTENSIONS = {
  issuerV1: `${FULCIO}.1`,
  githubWorkflowTrigger: `${FULCIO}.2`,
  githubWorkflowSHA: `${FULCIO}.3`,
  githubWorkflowName: `${FULCIO}.4`,
  githubWorkflowRepository: `${FULCIO}.5`,
  githubWorkflowRef: `${FULCIO}.6`,
} as const;

/** OtherName SAN type of Fulcio's `username` identities. */
export const OTHERNAME_USERNAME_OID = `${FULCIO}.7`;

export type FulcioExtensionName = keyof typeof FULCIO_EXTENSIONS | keyof typeof FULCIO_LEGACY_EXTENSIONS;
export const FULCIO_EXTENSION_NAMES: readonly FulcioExtensionName[] = [
  ...(Object.keys(FULCIO_EXTENSIONS) as FulcioExtensionName[]),
  ...(Object.keys(FULCIO_LEGACY_EXTENSIONS) as FulcioExtensionName[]),
];

export function isFulcioExtensionName(name: string): name is FulcioExtensionName {
  return (FULCIO_EXTENSION_NAMES as readonly string[]).includes(name);
}

/** Which kind of SAN carried the subject. */
export type SubjectKind = 'uri' | 'email' | 'username';

/** What a keyless certificate proves about its signer. */
export interface CertificateIdentity {
  /** OIDC issuer: extension .1.8, falling back to the deprecated .1.1. */
  readonly issuer: string | undefined;
  /** URI SAN, else email SAN, else the OtherName username (.1.7). */
  readonly subject: string | undefined;
  readonly subjectKind: SubjectKind | undefined;
  /** Every named Fulcio extension present in the certificate, decoded to text. */
  readonly extensions: Readonly<Partial<Record<FulcioExtensionName, string>>>;
}

const FULCIO_ENTRIES = Object.entries(FULCIO_EXTENSIONS) as [FulcioExtensionName, string][];
const FULCIO_LEGACY_ENTRIES = Object.entries(FULCIO_LEGACY_EXTENSIONS) as [FulcioExtensionName, string][];
const OCTET_STRING = 0x04;

/**
 * The one DER UTF8String an extension's extnValue holds, as `readDer(extnValue.value)` reads it. A
 * reader of the certificate (readDer, or the library's) has read that OCTET STRING's value as nested
 * DER already: its children are the objects the value reads as, none when it does not read as DER.
 * Exactly one child is what reading the value alone gives (one object, nothing after it); none or
 * several is what reading it alone refuses (not DER, trailing data), so the tree answers without a
 * second read. An extnValue that is not a primitive OCTET STRING (a malformed certificate) is read
 * alone, as before.
 */
function decodeUtf8String(extnValue: ASN1Obj, oid: string): string {
  let obj: ASN1Obj;
  if (extnValue.tag.toDER() === OCTET_STRING) {
    const [only, ...more] = extnValue.subs;
    if (only === undefined || more.length > 0) throw new Error(`extension ${oid} is not one DER object`);
    obj = only;
  } else obj = readDer(extnValue.value);
  // Fulcio writes UTF8String (tag 12); accept only that so a raw value can never pass as DER.
  if (obj.tag.toDER() !== 0x0c) throw new Error(`extension ${oid} is not a DER UTF8String`);
  return obj.value.toString('utf8');
}

/** Reads the identity from a parsed certificate or its DER bytes. */
export function certificateIdentity(certificate: X509Certificate | Uint8Array): CertificateIdentity {
  let cert: X509Certificate;
  try {
    cert = certificate instanceof X509Certificate ? certificate : new X509Certificate(readDer(certificate));
  } catch (cause) {
    throw new SigstoreError(SigstoreErrorCode.bundleMalformed, 'the signing certificate cannot be parsed', {
      cause,
    });
  }
  const extensions: Partial<Record<FulcioExtensionName, string>> = {};
  try {
    const values = extensionValues(cert);
    for (const [name, oid] of FULCIO_ENTRIES) {
      const value = values.get(oid);
      if (value) extensions[name] = decodeUtf8String(value, oid);
    }
    for (const [name, oid] of FULCIO_LEGACY_ENTRIES) {
      const value = values.get(oid);
      if (value) extensions[name] = value.value.toString('utf8');
    }
  } catch (cause) {
    throw new SigstoreError(
      SigstoreErrorCode.bundleMalformed,
      'a Fulcio extension of the certificate is malformed',
      {
        cause,
      },
    );
  }
  let subject: string | undefined;
  let subjectKind: SubjectKind | undefined;
  const san = cert.extSubjectAltName;
  if (san) {
    try {
      if (san.uri !== undefined) [subject, subjectKind] = [san.uri, 'uri'];
      else if (san.rfc822Name !== undefined) [subject, subjectKind] = [san.rfc822Name, 'email'];
      else {
        const username = otherNameUsername(san.valueObj);
        if (username !== undefined) [subject, subjectKind] = [username, 'username'];
      }
    } catch (cause) {
      throw new SigstoreError(SigstoreErrorCode.bundleMalformed, 'the certificate SAN is malformed', {
        cause,
      });
    }
  }
  return { issuer: extensions.issuer ?? extensions.issuerV1, subject, subjectKind, extensions };
}

/**
 * Each extension's extnValue by OID, the first of each OID (as the library's `extension(oid)`
 * finds it), read in one pass: `extension(oid)` re-decodes every extension's OID on each call. A
 * CachedCertificate (the bundle's leaf) has decoded them once for the library's getters already.
 * Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }: the
 * value is the last element, as the library reads it.
 */
function extensionValues(cert: X509Certificate): Map<string, ASN1Obj> {
  const extensions = cert.extensions;
  const oids = cert instanceof CachedCertificate ? cert.extensionOids() : undefined;
  const values = new Map<string, ASN1Obj>();
  extensions.forEach((ext, i) => {
    const oid = oids?.[i] ?? ext.subs[0]!.toOID();
    if (!values.has(oid)) values.set(oid, ext.subs[ext.subs.length - 1]!);
  });
  return values;
}

// GeneralNames ::= SEQUENCE OF GeneralName; otherName [0] { type-id OID, value [0] EXPLICIT ANY }.
// Searches every otherName (the library's helper looks at the first one only).
function otherNameUsername(extnValue: ASN1Obj): string | undefined {
  for (const gn of extnValue.subs[0]?.subs ?? []) {
    if (!gn.tag.isContextSpecific(0x00)) continue;
    const [typeId, wrapped] = gn.subs;
    if (typeId?.toOID() !== OTHERNAME_USERNAME_OID) continue;
    const inner = wrapped?.subs[0];
    if (inner) return inner.value.toString('utf8');
  }
  return undefined;
}
