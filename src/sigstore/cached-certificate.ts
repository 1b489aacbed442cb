// @sigstore/core's X509Certificate with every derived value computed once. The library re-derives on
// each access: `publicKey`, `equals` and `verify` re-serialise DER through a ByteStream that allocates a
// zero-filled ≥1 KiB buffer per ASN.1 node, and @sigstore/verify builds the chain once per timestamp,
// dedupes certificates with `equals` and checks each (certificate, issuer) pair again every time. The
// certificate is immutable, so each answer is a pure function of its bytes: this subclass keeps it.
//  - Trust-root certificates (trusted-root.ts wraps them when a root is loaded) are therefore checked
//    once per root version: a (certificate, issuer) signature result is remembered for as long as that
//    root's snapshot lives; a new root version is new objects, so nothing crosses versions.
//  - A bundle's leaf (signed-entity.ts reads it per verification) is checked against its issuer once,
//    however many timestamps ask; its key can be the one OpenSSL already decoded from the same bytes,
//    and its DER and TBS DER are the bytes it was read from (no second encoding).
//  - Extensions are found through one OID → extension table per certificate: the library's
//    `findExtension` decodes every extension's OID again on each of its getters.
//  - A leaf read from bytes can recall from a LeafMemo the issuers that verified those exact bytes
//    before (another bundle with the same certificate), and records there only a check that passed.
// Every check the library makes still runs, through its own code paths; only repeated work is skipped.
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { X509Certificate, crypto as sigstoreCrypto } from '@sigstore/core';
import type { ASN1Obj } from '@sigstore/core';
import { encodeDer, encodingIn, withChildren, withFastDer } from './der.ts';
import { readDerIn } from './der-reader.ts';
import type { LeafMemo, RememberedLeaf } from './leaf-memo.ts';

const MISSING = Symbol('missing');
type Slot<T> = T | typeof MISSING;

export class CachedCertificate extends X509Certificate {
  #der: Slot<Buffer> = MISSING;
  /** The bytes `read` parsed (undefined for a wrapped tree, whose DER is re-encoded). */
  #read: Buffer | undefined;
  #tbs: Slot<Buffer> = MISSING;
  #spki: Slot<Buffer> = MISSING;
  #key: Slot<KeyObject> = MISSING;
  #issuer: Slot<Buffer> = MISSING;
  #subject: Slot<Buffer> = MISSING;
  #notBefore: Slot<Date> = MISSING;
  #notAfter: Slot<Date> = MISSING;
  #serial: Slot<Buffer> = MISSING;
  #isCA: Slot<boolean> = MISSING;
  #signatureAlgorithm: Slot<string> = MISSING;
  #signatureValue: Slot<Buffer> = MISSING;
  #extensions = new Map<string, unknown>();
  /** The OIDs of the first `#oids.length` extensions, decoded in order as lookups need them. */
  readonly #oids: string[] = [];
  /** Result of verify(issuer) per issuer object (`this` for a self-signature). */
  readonly #verified = new WeakMap<X509Certificate, boolean>();

  /** Wraps an already parsed certificate (no second parse), or returns it when it is one already. */
  static of(cert: X509Certificate): CachedCertificate {
    return cert instanceof CachedCertificate ? cert : new CachedCertificate(cert.root);
  }

  /**
   * Reads DER with readDer (the library's tree, faster). `key`, when given, must be the key OpenSSL
   * decoded from these same bytes (node:crypto's X509Certificate of `der`): it saves a second decoding.
   */
  static read(der: Uint8Array, key?: KeyObject): CachedCertificate {
    const bytes = Buffer.from(der);
    const cert = new CachedCertificate(readDerIn(bytes));
    cert.#der = bytes;
    cert.#read = bytes;
    cert.#tbs = encodingIn(bytes, cert.tbsCertificate);
    if (key !== undefined) cert.#key = key;
    return cert;
  }

  /** The certificate's DER (what `root.toDER()` returns). */
  get der(): Buffer {
    if (this.#der === MISSING) this.#der = encodeDer(this.root);
    return this.#der;
  }

  /** The exact bytes this certificate was read from; undefined when it wraps an already parsed tree. */
  get readBytes(): Buffer | undefined {
    return this.#read;
  }

  /**
   * What `memo` remembers of these exact bytes: its issuers then answer `verify` true without OpenSSL
   * (each passed that check on a certificate of the same bytes). Nothing for a wrapped tree.
   */
  recallFrom(memo: LeafMemo): RememberedLeaf | undefined {
    if (this.#read === undefined) return undefined;
    const recalled = memo.recall(this.#read);
    if (recalled !== undefined)
      for (const issuer of recalled.issuers)
        if (issuer instanceof CachedCertificate) this.#verified.set(issuer, true);
    return recalled;
  }

  /** Records in `memo` that `issuer` verified these exact bytes: only when `verify(issuer)` answered true. */
  rememberIn(memo: LeafMemo, issuer: X509Certificate): boolean {
    if (this.#read === undefined || !(issuer instanceof CachedCertificate) || issuer === this) return false;
    if (this.#verified.get(issuer) !== true) return false;
    memo.rememberIssuer(this.#read, issuer);
    return true;
  }

  /** The issuer's view of this certificate's key, parsed once (createPublicKey throws as the library's does). */
  get keyObject(): KeyObject {
    if (this.#key === MISSING)
      this.#key = createPublicKey({ key: this.publicKey, format: 'der', type: 'spki' });
    return this.#key;
  }

  override get publicKey(): Buffer {
    if (this.#spki === MISSING) this.#spki = encodeDer(this.tbsCertificate.subs[6]!);
    return this.#spki;
  }

  override get issuer(): Buffer {
    if (this.#issuer === MISSING) this.#issuer = super.issuer;
    return this.#issuer;
  }

  override get subject(): Buffer {
    if (this.#subject === MISSING) this.#subject = super.subject;
    return this.#subject;
  }

  override get notBefore(): Date {
    if (this.#notBefore === MISSING) this.#notBefore = super.notBefore;
    return this.#notBefore;
  }

  override get notAfter(): Date {
    if (this.#notAfter === MISSING) this.#notAfter = super.notAfter;
    return this.#notAfter;
  }

  override get serialNumber(): Buffer {
    if (this.#serial === MISSING) this.#serial = super.serialNumber;
    return this.#serial;
  }

  override get isCA(): boolean {
    if (this.#isCA === MISSING) this.#isCA = super.isCA;
    return this.#isCA;
  }

  override get signatureAlgorithm(): string {
    if (this.#signatureAlgorithm === MISSING) this.#signatureAlgorithm = super.signatureAlgorithm;
    return this.#signatureAlgorithm;
  }

  override get signatureValue(): Buffer {
    if (this.#signatureValue === MISSING) this.#signatureValue = super.signatureValue;
    return this.#signatureValue;
  }

  /**
   * The first extension with this OID: the library's `findExtension` (its getters all ask it), each
   * extension's OID decoded once, in order, so a malformed one throws where the library's would.
   */
  extensionFor(oid: string): ASN1Obj | undefined {
    const extensions = this.extensions;
    const oids = this.#oids;
    for (let i = 0; i < extensions.length; i++) {
      if (i === oids.length) oids.push(extensions[i]!.subs[0]!.toOID());
      if (oids[i] === oid) return extensions[i];
    }
    return undefined;
  }

  /** Every extension's OID, in order (decoded once, shared with `extensionFor`). */
  extensionOids(): readonly string[] {
    const extensions = this.extensions;
    for (let i = this.#oids.length; i < extensions.length; i++)
      this.#oids.push(extensions[i]!.subs[0]!.toOID());
    return this.#oids;
  }

  override get extKeyUsage(): X509Certificate['extKeyUsage'] {
    return this.#extension('keyUsage', () => super.extKeyUsage);
  }

  override get extBasicConstraints(): X509Certificate['extBasicConstraints'] {
    return this.#extension('basicConstraints', () => super.extBasicConstraints);
  }

  override get extAuthorityKeyID(): X509Certificate['extAuthorityKeyID'] {
    return this.#extension('authorityKeyID', () => super.extAuthorityKeyID);
  }

  override get extSubjectKeyID(): X509Certificate['extSubjectKeyID'] {
    return this.#extension('subjectKeyID', () => super.extSubjectKeyID);
  }

  /**
   * The library's check (the issuer's key, or this one's for a self-signature, over the TBS DER),
   * answered once per issuer. An issuer that is not a CachedCertificate is checked every time.
   */
  override verify(issuerCertificate?: X509Certificate): boolean {
    const issuer = issuerCertificate ?? this;
    if (!(issuer instanceof CachedCertificate)) return super.verify(issuerCertificate);
    const known = this.#verified.get(issuer);
    if (known !== undefined) return known;
    const result = sigstoreCrypto.verify(
      this.#tbsDer(),
      issuer.keyObject,
      this.signatureValue,
      this.signatureAlgorithm,
    );
    this.#verified.set(issuer, result);
    return result;
  }

  override equals(other: X509Certificate): boolean {
    if (other === this) return true;
    return this.der.equals(other instanceof CachedCertificate ? other.der : other.root.toDER());
  }

  /**
   * A copy the caller may edit where the library edits one: verifySCTs removes the SCT extension from
   * its copy's extension list, then serialises the TBS. The nodes from the root down to each
   * extension are new, with new child lists (the certificate, its TBS, the [3] wrapper, the list,
   * each extension); the nodes under them and the TBS's other parts are this certificate's own,
   * shared and never written (no caller edits below an extension). No re-serialise-and-parse round
   * trip as the library's, and no copy of the ~150 nodes a leaf has (17 KiB per bundle).
   */
  override clone(): X509Certificate {
    const root = this.root;
    const tbs = root.subs[0];
    if (tbs === undefined) return new X509Certificate(withFastDer(root));
    const tbsSubs = tbs.subs.map((part) =>
      part.tag.isContextSpecific(0x03)
        ? withChildren(
            part,
            part.subs.map((list, i) =>
              i === 0
                ? withChildren(
                    list,
                    list.subs.map((ext) => withChildren(ext, ext.subs.slice())),
                  )
                : list,
            ),
          )
        : part,
    );
    return new X509Certificate(withChildren(root, [withChildren(tbs, tbsSubs), ...root.subs.slice(1)]));
  }

  #tbsDer(): Buffer {
    if (this.#tbs === MISSING) this.#tbs = encodeDer(this.tbsCertificate);
    return this.#tbs;
  }

  #extension<T>(name: string, read: () => T): T {
    if (!this.#extensions.has(name)) this.#extensions.set(name, read());
    return this.#extensions.get(name) as T;
  }
}

// The library's getters call `findExtension`, private in its typings, a plain method at run time: this
// certificate answers it from its table (if a release renames it, the library's own runs, only slower;
// test/sigstore/cached-certificate.test.ts notices).
Object.defineProperty(CachedCertificate.prototype, 'findExtension', {
  value(this: CachedCertificate, oid: string): ASN1Obj | undefined {
    return this.extensionFor(oid);
  },
});
