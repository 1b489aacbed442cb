// verifyBundle in two steps (startVerifyBundle): a legacy signature's checks that need no payload run
// while the payload blob is fetched, the rest when it arrives. The two steps must answer exactly what
// verifyBundle answers over the same bundle and payload, failures included and in the same order (a
// payload that is not the signed one is CONTENT_MISMATCH even where the certificate fails too; a
// certificate that fails wins over what a payload says). Real public-good signatures, real roots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrustMaterial } from '@sigstore/verify';
import { SigwardError } from '../../src/errors.ts';
import { parseBundle } from '../../src/sigstore/bundle.ts';
import { legacySignatureBundle, legacySignatureToBundle } from '../../src/sigstore/legacy.ts';
import type { LegacyLayer } from '../../src/sigstore/legacy.ts';
import { ANNOTATION } from '../../src/sigstore/layout.ts';
import type { Bundle } from '../../src/sigstore/bundle.ts';
import { headStart } from '../../src/sigstore/verify-candidate.ts';
import type { Authority, HeadStarts } from '../../src/sigstore/verify-candidate.ts';
import { startVerifyBundle, verifyBundle } from '../../src/sigstore/verify.ts';
import type { SignerTrust, VerifiedSignature, VerifyInput } from '../../src/sigstore/verify.ts';
import { CachedCertificate } from '../../src/sigstore/cached-certificate.ts';
import { collectionWatch } from '../support/collected.ts';
import {
  CONNAISSEUR,
  connaisseurImageDigest,
  connaisseurLayers,
  containersImageSignature,
  ext,
  prodRoot,
  publicKey,
  sha256Digest,
  stagingRoot,
} from './ext.ts';
import { fulcioRekor as signedByMitr } from './discover-fixtures.ts';

const CI = ext('containers-image/signature/fixtures');
const keyless: SignerTrust = { kind: 'keyless' };
const fulcioRekor = (): LegacyLayer => signedByMitr.layer();
const fulcioRekorDigest = signedByMitr.digest;
const withAnnotation = (layer: LegacyLayer, name: string, value: string | undefined): LegacyLayer => {
  const annotations = { ...layer.annotations };
  if (value === undefined) delete annotations[name];
  else annotations[name] = value;
  return { ...layer, annotations };
};
const flipped = (base64: string, from: number): string => {
  const bytes = Buffer.from(base64, 'base64');
  bytes[bytes.length - from]! ^= 0x01;
  return bytes.toString('base64');
};
const brokenSet = (layer: LegacyLayer): LegacyLayer => {
  const rekor = JSON.parse(layer.annotations[ANNOTATION.rekorBundle]!) as { SignedEntryTimestamp: string };
  rekor.SignedEntryTimestamp = flipped(rekor.SignedEntryTimestamp, 5);
  return withAnnotation(layer, ANNOTATION.rekorBundle, JSON.stringify(rekor));
};
const otherPayload = (layer: LegacyLayer): Buffer =>
  Buffer.from(layer.blob.toString().replace('fulcio-rekor-1', 'fulcio-rekor-2'));

type Answer = { verified: unknown } | { code: string | undefined; message: string; sigward: boolean };
function answer(run: () => unknown): Answer {
  try {
    return { verified: run() };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return { code: e.code, message: e.message ?? String(error), sigward: error instanceof SigwardError };
  }
}

interface Case {
  readonly name: string;
  readonly layer: LegacyLayer;
  /** The bytes that arrive; default the layer's own. */
  readonly payload?: Uint8Array;
  readonly digest?: string;
  readonly signer?: SignerTrust;
  readonly trust?: TrustMaterial;
  readonly repository?: string;
  /** What verifyBundle answers (so that a case cannot pass by both steps failing alike by accident). */
  readonly expect: string;
}

const keyedCi = containersImageSignature(join(CI, 'dir-img-cosign-key-rekor-valid/signature-1'));
const alice = connaisseurLayers(connaisseurImageDigest('multi-cosigned-alice-bob-charlie.json'))[0]!;
const cases: Case[] = [
  { name: 'the real keyless signature', layer: fulcioRekor(), expect: 'verified' },
  {
    name: 'other bytes than the signed payload',
    layer: fulcioRekor(),
    payload: otherPayload(fulcioRekor()),
    expect: 'SIGSTORE_CONTENT_MISMATCH',
  },
  { name: 'a broken SET', layer: brokenSet(fulcioRekor()), expect: 'SIGSTORE_TLOG_INVALID' },
  {
    name: 'a broken SET and other bytes: the payload check comes first, as in one step',
    layer: brokenSet(fulcioRekor()),
    payload: otherPayload(fulcioRekor()),
    expect: 'SIGSTORE_CONTENT_MISMATCH',
  },
  {
    name: 'the staging root (no chain)',
    layer: fulcioRekor(),
    trust: stagingRoot().material,
    expect: 'SIGSTORE_CERTIFICATE_UNTRUSTED',
  },
  {
    name: 'no chain, and a payload for another image: the chain wins',
    layer: fulcioRekor(),
    trust: stagingRoot().material,
    digest: `sha256:${'0'.repeat(64)}`,
    expect: 'SIGSTORE_CERTIFICATE_UNTRUSTED',
  },
  {
    name: 'a payload for another image',
    layer: fulcioRekor(),
    digest: `sha256:${'0'.repeat(64)}`,
    expect: 'SIGSTORE_CONTENT_MISMATCH',
  },
  {
    name: 'a docker-reference naming another repository',
    layer: fulcioRekor(),
    repository: 'ghcr.io/evil/fulcio-rekor-1',
    expect: 'SIGSTORE_CONTENT_MISMATCH',
  },
  {
    name: 'a tampered signature',
    layer: withAnnotation(
      fulcioRekor(),
      ANNOTATION.signature,
      flipped(fulcioRekor().annotations[ANNOTATION.signature]!, 3),
    ),
    expect: 'SIGSTORE_TLOG_INVALID',
  },
  {
    name: 'no Rekor bundle',
    layer: withAnnotation(fulcioRekor(), ANNOTATION.rekorBundle, undefined),
    expect: 'SIGSTORE_TLOG_INVALID',
  },
  {
    name: 'no Rekor bundle and other bytes: the missing entry comes first',
    layer: withAnnotation(fulcioRekor(), ANNOTATION.rekorBundle, undefined),
    payload: otherPayload(fulcioRekor()),
    expect: 'SIGSTORE_TLOG_INVALID',
  },
  {
    name: 'a key expected, a certificate found',
    layer: fulcioRekor(),
    signer: { kind: 'key', publicKey: publicKey(join(CI, 'cosign.pub')) },
    expect: 'SIGSTORE_KEY_UNTRUSTED',
  },
  {
    name: 'a key + Rekor signature with its key',
    layer: keyedCi,
    digest: sha256Digest(readFileSync(join(CI, 'dir-img-cosign-key-rekor-valid/manifest.json'))),
    signer: { kind: 'key', publicKey: publicKey(join(CI, 'cosign2.pub')) },
    expect: 'verified',
  },
  {
    name: 'a key + Rekor signature with another key',
    layer: keyedCi,
    digest: sha256Digest(readFileSync(join(CI, 'dir-img-cosign-key-rekor-valid/manifest.json'))),
    signer: { kind: 'key', publicKey: publicKey(join(CI, 'cosign.pub')) },
    expect: 'SIGSTORE_SIGNATURE_INVALID',
  },
  {
    name: 'another key and a payload for another image: the signature comes before what it says',
    layer: keyedCi,
    digest: `sha256:${'0'.repeat(64)}`,
    signer: { kind: 'key', publicKey: publicKey(join(CI, 'cosign.pub')) },
    expect: 'SIGSTORE_SIGNATURE_INVALID',
  },
  {
    name: 'a key-only signature without a log, with its key',
    layer: alice,
    digest: connaisseurImageDigest('multi-cosigned-alice-bob-charlie.json'),
    signer: { kind: 'key', publicKey: publicKey(join(CONNAISSEUR, 'alice.key')), requireTlog: false },
    expect: 'verified',
  },
  {
    name: 'a key-only signature without a log, with another key and other bytes',
    layer: alice,
    payload: Buffer.from(alice.blob.toString().replace('"critical"', '"critical" ')),
    digest: connaisseurImageDigest('multi-cosigned-alice-bob-charlie.json'),
    signer: { kind: 'key', publicKey: publicKey(join(CONNAISSEUR, 'bob.key')), requireTlog: false },
    expect: 'SIGSTORE_CONTENT_MISMATCH',
  },
];

for (const c of cases) {
  test(`two steps answer what one does: ${c.name}`, () => {
    // The bundle as discovery reads it before the blob: from the annotations and the descriptor's digest.
    const bundle = legacySignatureBundle(
      c.layer.annotations,
      Buffer.from(sha256Digest(c.layer.blob).slice('sha256:'.length), 'hex'),
    );
    assert.deepEqual(bundle, legacySignatureToBundle(c.layer).bundle, 'the same bundle as from the blob');
    const payload = c.payload ?? c.layer.blob;
    const input = (withPayload: boolean): VerifyInput => ({
      bundle,
      trust: c.trust ?? prodRoot().material,
      signer: c.signer ?? keyless,
      content: {
        kind: 'image',
        digest: c.digest ?? fulcioRekorDigest,
        ...(withPayload ? { payload } : {}),
        ...(c.repository === undefined ? {} : { repository: c.repository }),
      },
    });
    const one = answer(() => verifyBundle(input(true)));
    const finish = startVerifyBundle(input(false));
    assert.ok(finish !== undefined, 'a legacy image signature can be started without its payload');
    const two = answer(() => finish(payload));
    assert.deepEqual(two, one);
    assert.equal('verified' in one ? 'verified' : one.code, c.expect, JSON.stringify(one));
    // The first step is kept: finishing again with the same bytes answers the same.
    assert.deepEqual(
      answer(() => finish(payload)),
      one,
    );
  });
}

test('only a message signature over an image payload has a second step', () => {
  const trust = prodRoot().material;
  const dsse = parseBundle(readFileSync(ext('sigstore-rs/tests/data/bundle_v03.json')));
  const image = { kind: 'image', digest: fulcioRekorDigest } as const;
  assert.equal(startVerifyBundle({ bundle: dsse, trust, signer: keyless, content: image }), undefined);
  const { bundle } = legacySignatureToBundle(fulcioRekor());
  const artifact = { kind: 'artifact', digest: fulcioRekorDigest } as const;
  assert.equal(startVerifyBundle({ bundle, trust, signer: keyless, content: artifact }), undefined);
});

test('a head start that throws never throws from the event loop; the verification that needs it gets the error', async () => {
  // A bundle whose reading throws: what a bug in the first step would do (the steps keep their own
  // failures, so nothing real throws there).
  const bug = new Error('a bug in the first step');
  const bundle = {
    get content(): never {
      throw bug;
    },
  } as unknown as Bundle;
  const authority: Authority = { kind: 'keyless', name: 'a', match: () => ({ matched: true }) };
  const headStarts: HeadStarts = new WeakMap();
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown): void => void uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  try {
    headStart(
      { authorities: [authority], trust: prodRoot().material, headStarts },
      [bundle],
      `sha256:${'0'.repeat(64)}`,
    );
    await new Promise((resolve) => setImmediate(resolve)); // after headStart's own immediate
  } finally {
    process.off('uncaughtException', onUncaught);
  }
  assert.deepEqual(uncaught, []);
  const start = headStarts.get(bundle)?.get(authority);
  assert.ok(start !== undefined);
  assert.throws(() => start(), bug);
});

test('a started verification waiting for its payload keeps nothing of the certificate it read: the tree is collected before the second step', async () => {
  const watch = collectionWatch();
  // Every certificate the first step reads (signed-entity.ts reads the leaf with CachedCertificate.read).
  const read = CachedCertificate.read.bind(CachedCertificate);
  let certificates = 0;
  CachedCertificate.read = (der, key) => {
    const cert = read(der, key);
    watch.watch(cert, `certificate ${++certificates}`);
    watch.watch(cert.root, `tree ${certificates}`);
    return cert;
  };
  let finish: ((payload: Uint8Array) => unknown) | undefined;
  try {
    const layer = fulcioRekor();
    const bundle = legacySignatureBundle(
      layer.annotations,
      Buffer.from(sha256Digest(layer.blob).slice('sha256:'.length), 'hex'),
    );
    finish = startVerifyBundle({
      bundle,
      trust: prodRoot().material,
      signer: keyless,
      content: { kind: 'image', digest: fulcioRekorDigest },
    });
  } finally {
    CachedCertificate.read = read;
  }
  assert.ok(finish !== undefined);
  assert.equal(certificates, 1, 'the first step read the leaf');
  assert.deepEqual(await watch.collectedOf(['certificate 1', 'tree 1']), ['certificate 1', 'tree 1']);
  // …and the second step still answers what one step does.
  const verified = finish(fulcioRekor().blob) as VerifiedSignature;
  assert.equal(verified.identity.kind, 'certificate');
  assert.deepEqual(
    verified,
    verifyBundle({
      bundle: legacySignatureToBundle(fulcioRekor()).bundle,
      trust: prodRoot().material,
      signer: keyless,
      content: { kind: 'image', digest: fulcioRekorDigest, payload: fulcioRekor().blob },
    }),
  );
});
