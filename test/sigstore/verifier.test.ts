// CachedKeyVerifier + signedEntity answer what @sigstore/verify's Verifier + toSignedEntity answer, on
// every conformance bundle, twice over the same trust-root objects (remembered checks warm); what is
// remembered (a CA pair's signature, a trust-root key) never stands in for a check that depends on the
// bundle: validity at each signing time, a changed leaf, a leaf from another CA, another trust root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate as NativeCertificate, createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Verifier, toSignedEntity } from '@sigstore/verify';
import type { SignedEntity, TrustMaterial } from '@sigstore/verify';
import { parseBundle } from '../../src/sigstore/bundle.ts';
import type { Bundle } from '../../src/sigstore/bundle.ts';
import { CachedCertificate } from '../../src/sigstore/cached-certificate.ts';
import { SigstoreErrorCode } from '../../src/sigstore/errors.ts';
import { signedEntity } from '../../src/sigstore/signed-entity.ts';
import { checkStrictMaterial } from '../../src/sigstore/strict-material.ts';
import { loadTrustRoot } from '../../src/sigstore/trusted-root.ts';
import type { TrustRootSnapshot } from '../../src/sigstore/trusted-root.ts';
import { CachedKeyVerifier, LIBRARY_STEPS, REPLACED_STEPS } from '../../src/sigstore/verifier.ts';
import { verifyBundle } from '../../src/sigstore/verify.ts';
import type { SignedContent } from '../../src/sigstore/verify.ts';
import { PROD_ROOT_PATH, STAGING_ROOT_PATH, conformanceBundleCases, ext, prodRoot, readJson } from './ext.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const CASES = ext('sigstore-conformance/bundle-verify');
const RS_BUNDLE = ext('sigstore-rs/tests/data/bundle_v03.json');
const RS_DIGEST = 'sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172';
const image: SignedContent = { kind: 'image', digest: RS_DIGEST };

const roots = new Map<string, TrustRootSnapshot>();
/** One snapshot per file, shared by every case that uses it (so remembered checks are warm). */
const rootAt = (path: string): TrustRootSnapshot | undefined => {
  if (!roots.has(path)) {
    try {
      roots.set(path, loadTrustRoot(readFileSync(path), path));
    } catch {
      return undefined; // a root sigward refuses (a _fail case): nothing to compare
    }
  }
  return roots.get(path);
};

type Outcome = { ok: true; key: string } | { ok: false; stage: 'entity' | 'verify'; error: string };
const spki = (key: KeyObject): string => key.export({ format: 'der', type: 'spki' }).toString('base64');
const described = (e: unknown): string =>
  e instanceof Error
    ? `${e.constructor.name} ${(e as { code?: string }).code ?? ''} ${e.message}`
    : String(e);

function outcome(entity: () => SignedEntity, verify: (e: SignedEntity) => KeyObject): Outcome {
  let e: SignedEntity;
  try {
    e = entity();
  } catch {
    return { ok: false, stage: 'entity', error: 'unreadable' };
  }
  try {
    return { ok: true, key: spki(verify(e)) };
  } catch (error) {
    return { ok: false, stage: 'verify', error: described(error) };
  }
}

function nativeLeafOf(bundle: Bundle): NativeCertificate | undefined {
  const content = bundle.verificationMaterial.content;
  const der =
    content.$case === 'certificate'
      ? content.certificate.rawBytes
      : content.$case === 'x509CertificateChain'
        ? content.x509CertificateChain.certificates[0]?.rawBytes
        : undefined;
  try {
    return der === undefined ? undefined : new NativeCertificate(Buffer.from(der));
  } catch {
    return undefined;
  }
}

test('every conformance bundle: the same outcome as the library (key, or error and message), twice', () => {
  const counts = { verified: 0, refused: 0 };
  for (const pass of [1, 2]) {
    for (const { name, bundle, artifact, trust } of conformanceBundleCases()) {
      const library = outcome(
        () => toSignedEntity(bundle, artifact),
        (e) => new Verifier(trust).verify(e).key,
      );
      const nativeLeaf = nativeLeafOf(bundle);
      const ours = outcome(
        () => signedEntity({ bundle, artifact, ...(nativeLeaf ? { nativeLeaf } : {}) }),
        (e) => new CachedKeyVerifier(trust).verify(e).key,
      );
      assert.deepEqual(ours, library, `${name} (pass ${pass})`);
      if (pass === 1) counts[library.ok ? 'verified' : 'refused']++;
    }
  }
  assert.ok(counts.verified >= 15 && counts.refused >= 25, JSON.stringify(counts));
});

test('the steps it replaces are the ones the library runs, once each per verification', () => {
  for (const step of [...REPLACED_STEPS, ...LIBRARY_STEPS])
    assert.equal(typeof (Verifier.prototype as unknown as Record<string, unknown>)[step], 'function', step);
  // CachedKeyVerifier.verify runs the library's steps itself (so a legacy signature can run all but the
  // last before its payload arrives): the library's verify must run exactly these, in this order.
  const source = Verifier.prototype.verify.toString();
  const called = [...source.matchAll(/this\.(verify\w+)\(/g)].map((m) => m[1]);
  assert.deepEqual(called, [...LIBRARY_STEPS, 'verifyPolicy']);
  const calls: string[] = [];
  class Watched extends CachedKeyVerifier {
    override verifyTimestamps(entity: SignedEntity): Date[] {
      calls.push('verifyTimestamps');
      return super.verifyTimestamps(entity);
    }
    override verifySigningKey(
      entity: SignedEntity,
      timestamps: Date[],
    ): ReturnType<CachedKeyVerifier['verifySigningKey']> {
      calls.push('verifySigningKey');
      return super.verifySigningKey(entity, timestamps);
    }
  }
  const bundle = parseBundle(readFileSync(RS_BUNDLE));
  new Watched(prodRoot().material).verify(signedEntity({ bundle }));
  assert.deepEqual(calls, ['verifyTimestamps', 'verifySigningKey']);
  assert.throws(
    () => new CachedKeyVerifier(prodRoot().material).verify(signedEntity({ bundle }), {}),
    /no policy/,
  );
});

const rsRun = (trust: TrustMaterial, json: Json = readJson(RS_BUNDLE) as Json) =>
  verifyBundle({ bundle: parseBundle(json), trust, signer: { kind: 'keyless' }, content: image });

function rejects(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: { code?: string; message?: string }) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (message) assert.match(e.message ?? '', message);
    return true;
  });
}

test('remembered CA checks still meet each verification time: the same certificate objects, another window', () => {
  const material = prodRoot().material;
  rsRun(material); // every pair check of the root is remembered now
  const ended = { start: new Date('2021-01-01T00:00:00Z'), end: new Date('2022-01-01T00:00:00Z') };
  rejects(
    () =>
      rsRun({
        ...material,
        certificateAuthorities: material.certificateAuthorities.map((ca) => ({ ...ca, validFor: ended })),
      }),
    SigstoreErrorCode.certificateUntrusted,
  );
  rejects(
    () =>
      rsRun({
        ...material,
        timestampAuthorities: material.timestampAuthorities.map((ca) => ({ ...ca, validFor: ended })),
      }),
    SigstoreErrorCode.timestampInvalid,
  );
  rsRun(material);
});

test("the leaf's validity is checked at every verified time, after the same leaf passed", () => {
  const bundle = parseBundle(readFileSync(RS_BUNDLE));
  const entity = signedEntity({ bundle });
  const verifier = new CachedKeyVerifier(prodRoot().material);
  const times = verifier.verifyTimestamps(entity);
  verifier.verifySigningKey(entity, times);
  assert.equal(entity.key.$case, 'certificate');
  const leaf = entity.key.$case === 'certificate' ? entity.key.certificate : undefined;
  const afterExpiry = new Date(leaf!.notAfter.getTime() + 1000);
  const beforeIssue = new Date(leaf!.notBefore.getTime() - 1000);
  for (const late of [afterExpiry, beforeIssue])
    assert.throws(
      () => verifier.verifySigningKey(entity, [...times, late]),
      /not valid or expired|certificate chain/,
    );
});

test('a leaf whose signature was changed is refused after the same leaf verified', () => {
  const material = prodRoot().material;
  rsRun(material);
  const json = readJson(RS_BUNDLE) as Json;
  const der = Buffer.from(json.verificationMaterial.certificate.rawBytes, 'base64');
  der[der.length - 3]! ^= 0x01; // inside the signature value: still canonical DER
  json.verificationMaterial.certificate.rawBytes = der.toString('base64');
  rejects(() => rsRun(material, json), SigstoreErrorCode.certificateUntrusted);
});

test('a leaf from another CA (public-good staging) is refused by the prod root and accepted by its own', () => {
  const dir = join(CASES, 'bundle-from-wrong-instance_fail');
  const bytes = readFileSync(join(CASES, 'a.txt'));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const run = (root: TrustRootSnapshot) =>
    verifyBundle({
      bundle: parseBundle(readFileSync(join(dir, 'bundle.sigstore.json'))),
      trust: root.material,
      signer: { kind: 'keyless' },
      content: { kind: 'artifact', digest, bytes },
    });
  const staging = rootAt(STAGING_ROOT_PATH)!;
  run(staging);
  rejects(() => run(prodRoot()), SigstoreErrorCode.certificateUntrusted, /certificate chain/);
  run(staging);
});

/** The prod trusted_root.json with `edit` applied, loaded as a new snapshot (a new root version). */
function editedProd(edit: (json: Json) => void): TrustRootSnapshot {
  const json = readJson(PROD_ROOT_PATH) as Json;
  edit(json);
  return loadTrustRoot(Buffer.from(JSON.stringify(json)), 'edited');
}

test("a trust-root change: the new version's CAs decide, whatever the old version remembered", () => {
  rsRun(prodRoot().material);
  const staging = readJson(STAGING_ROOT_PATH) as Json;
  const stagingIntermediate = staging.certificateAuthorities.at(-1).certChain.certificates[0];
  // A wrong intermediate: each Fulcio CA's first certificate swapped for staging's (a real CA certificate).
  const wrongIntermediate = editedProd((json) => {
    for (const ca of json.certificateAuthorities) ca.certChain.certificates[0] = stagingIntermediate;
  });
  rejects(() => rsRun(wrongIntermediate.material), SigstoreErrorCode.certificateUntrusted);
  // A TSA whose signing certificate is another one (staging's Fulcio intermediate: another key, serial, issuer).
  const wrongTsa = editedProd((json) => {
    for (const tsa of json.timestampAuthorities) tsa.certChain.certificates[0] = stagingIntermediate;
  });
  rejects(() => rsRun(wrongTsa.material), SigstoreErrorCode.timestampInvalid);
  // And back: the same bytes as prod again verify (a fresh snapshot, nothing carried over).
  rsRun(editedProd(() => undefined).material);
});

test("the leaf's key is OpenSSL's reading only when that reading is of the same bytes", () => {
  const bundle = parseBundle(readFileSync(RS_BUNDLE));
  const der = Buffer.from(
    bundle.verificationMaterial.content.$case === 'certificate'
      ? bundle.verificationMaterial.content.certificate.rawBytes
      : [],
  );
  const own = new NativeCertificate(der);
  const other = new NativeCertificate(
    Buffer.from(
      (readJson(STAGING_ROOT_PATH) as Json).certificateAuthorities.at(-1).certChain.certificates[0].rawBytes,
      'base64',
    ),
  );
  const leafKey = (e: SignedEntity): KeyObject => {
    assert.ok(e.key.$case === 'certificate' && e.key.certificate instanceof CachedCertificate);
    return e.key.certificate.keyObject;
  };
  const expected = createPublicKey({
    key: own.publicKey.export({ format: 'der', type: 'spki' }),
    format: 'der',
    type: 'spki',
  });
  assert.equal(leafKey(signedEntity({ bundle, strict: { leaf: own, tokens: [] } })), own.publicKey);
  const withOther = leafKey(signedEntity({ bundle, strict: { leaf: other, tokens: [] } }));
  assert.notEqual(withOther, other.publicKey);
  assert.ok(withOther.equals(expected));
  assert.ok(leafKey(signedEntity({ bundle })).equals(expected));
});

test("the RFC 3161 tokens are the strict checks' reading of them, and read again when that reading is not of them", () => {
  const bundle = parseBundle(readFileSync(RS_BUNDLE));
  const strict = checkStrictMaterial(bundle);
  assert.equal(strict.tokens.length, 1);
  const tokenRoots = (e: SignedEntity) =>
    e.timestamps.flatMap((t) => (t.$case === 'timestamp-authority' ? [t.timestamp.root] : []));
  const reused = tokenRoots(signedEntity({ bundle, strict }));
  assert.equal(reused.length, 1);
  assert.equal(reused[0], strict.tokens[0], 'the very tree the strict checks read');
  const own = tokenRoots(signedEntity({ bundle, strict: { tokens: [] } }));
  assert.equal(own.length, 1);
  assert.notEqual(own[0], strict.tokens[0]);
  assert.deepEqual(own[0]!.toDER(), strict.tokens[0]!.toDER());
});

/** Both verifiers' answer to one step (the library's steps are plain methods at run time). */
function bothSay(
  step: (v: CachedKeyVerifier) => unknown,
  options: ConstructorParameters<typeof Verifier>[1] = {},
) {
  const answer = (run: () => unknown): string => {
    try {
      run();
      return 'accepted';
    } catch (error) {
      return described(error);
    }
  };
  const material = prodRoot().material;
  const library = answer(() => step(new Verifier(material, options) as unknown as CachedKeyVerifier));
  const ours = answer(() => step(new CachedKeyVerifier(material, options)));
  assert.equal(ours, library);
  return ours;
}

test('thresholds as the library: no time at all, the same token twice, a certificate without SCTs', () => {
  const bundle = parseBundle(readFileSync(RS_BUNDLE));
  const entity = signedEntity({ bundle });
  assert.match(
    bothSay((v) => v.verifyTimestamps({ ...entity, timestamps: [] })),
    /expected 1 timestamps, got 0/,
  );
  assert.equal(
    bothSay((v) => v.verifyTimestamps({ ...entity, timestamps: [] }), { timestampThreshold: 0 }),
    'accepted',
  );
  const twice = { ...entity, timestamps: [...entity.timestamps, ...entity.timestamps] };
  assert.match(
    bothSay((v) => v.verifyTimestamps(twice)),
    /duplicate timestamp/,
  );
  // A CA certificate of the root as the "leaf": a valid chain, no SCT extension.
  const ca = prodRoot().material.certificateAuthorities.find((a) => a.certChain.length >= 2)!;
  const intermediate = CachedCertificate.read(Buffer.from(ca.certChain[0]!.root.toDER()));
  const unsct: SignedEntity = { ...entity, key: { $case: 'certificate', certificate: intermediate } };
  const during = [new Date((intermediate.notBefore.getTime() + intermediate.notAfter.getTime()) / 2)];
  assert.match(
    bothSay((v) => v.verifySigningKey(unsct, during)),
    /expected 1 SCTs, got 0/,
  );
  assert.equal(
    bothSay((v) => v.verifySigningKey(unsct, during), { ctlogThreshold: 0 }),
    'accepted',
  );
});

test('the @sigstore/verify release whose two steps CachedKeyVerifier mirrors (an upgrade: compare, then bump)', () => {
  const manifest = JSON.parse(
    readFileSync(join(import.meta.dirname, '../../node_modules/@sigstore/verify/package.json'), 'utf8'),
  ) as { version: string };
  // On a new release: compare its verifier.js, key/index.js and timestamp/tsa.js with verifier.ts's two
  // steps (a check added there would be skipped by ours), carry it over, then name the release here.
  assert.equal(manifest.version, '4.1.3');
});
