// The pure parts of the signer: services from a signing config with cosign's overrides, the payloads
// it signs (read back by the webhook's own parsers, so signer and verifier agree), and the mapping of
// a message-signature bundle onto legacy cosign annotations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bundle } from '@sigstore/bundle';
import { SigwardError } from '../../src/errors.ts';
import { ANNOTATION, COSIGN_SIGN_PREDICATE_TYPE } from '../../src/sigstore/layout.ts';
import { legacySignatureToBundle } from '../../src/sigstore/legacy.ts';
import { checkSimpleSigning, parseSimpleSigning } from '../../src/sigstore/payload.ts';
import { checkStatement, parseStatement } from '../../src/sigstore/statement.ts';
import { legacyAnnotations } from '../../src/signer/legacy-annotations.ts';
import { imageStatement, simpleSigningPayload } from '../../src/signer/payloads.ts';
import { PUBLIC_GOOD_SERVICES, servicesFromSigningConfig, withOverrides } from '../../src/signer/services.ts';

const digest = `sha256:${'ab'.repeat(32)}`;
const codeOf = (e: unknown) => (e instanceof SigwardError ? e.code : String(e));

const config = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [
      { url: 'https://old-fulcio.example', majorApiVersion: 1, validFor: { start: '2020-01-01T00:00:00Z' } },
      { url: 'https://fulcio.example/', majorApiVersion: 1, validFor: { start: '2024-01-01T00:00:00Z' } },
      {
        url: 'https://future-fulcio.example',
        majorApiVersion: 1,
        validFor: { start: '2999-01-01T00:00:00Z' },
      },
    ],
    rekorTlogUrls: [
      { url: 'https://rekor.example', majorApiVersion: 1, validFor: { start: '2021-01-01T00:00:00Z' } },
      {
        url: 'https://log2025.rekor.example',
        majorApiVersion: 2,
        validFor: { start: '2025-01-01T00:00:00Z' },
      },
      { url: 'https://v3.example', majorApiVersion: 3, validFor: { start: '2026-01-01T00:00:00Z' } },
    ],
    rekorTlogConfig: { selector: 'ANY' },
    tsaUrls: [
      {
        url: 'https://tsa.example/api/v1/timestamp',
        majorApiVersion: 1,
        validFor: { start: '2024-01-01T00:00:00Z', end: '2998-01-01T00:00:00Z' },
      },
    ],
    tsaConfig: { selector: 'ANY' },
    ...extra,
  });

test('signing config: the newest service valid now, of an API version sigward speaks', () => {
  const services = servicesFromSigningConfig(config(), new Date('2026-06-01T00:00:00Z'));
  assert.deepEqual(services, {
    fulcio: { url: 'https://fulcio.example' },
    rekor: { url: 'https://log2025.rekor.example', majorApiVersion: 2 },
    tsa: { url: 'https://tsa.example/api/v1/timestamp' },
  });
  assert.throws(
    () => servicesFromSigningConfig(config({ rekorTlogConfig: { selector: 'EXACT', count: 2 } })),
    /only ANY/,
  );
  assert.throws(
    () => servicesFromSigningConfig(config({ mediaType: 'application/json' })),
    (e) => codeOf(e) === 'SIGNER_CONFIG',
  );
  assert.throws(() => servicesFromSigningConfig(config({ caUrls: [] })), /no Fulcio/);
});

test("overrides: cosign's --fulcio-url, --rekor-url, --timestamp-server-url; Rekor v2 needs a TSA", () => {
  const base = servicesFromSigningConfig(config(), new Date('2026-06-01T00:00:00Z'));
  const moved = withOverrides(base, {
    fulcioUrl: 'http://127.0.0.1:5555/',
    rekorUrl: 'https://rekor.internal',
  });
  assert.deepEqual(moved.fulcio, { url: 'http://127.0.0.1:5555' });
  assert.deepEqual(moved.rekor, { url: 'https://rekor.internal', majorApiVersion: 1 });
  assert.deepEqual(
    withOverrides(base, { rekorUrl: 'https://log2025.rekor.example' }).rekor?.majorApiVersion,
    2,
  );
  assert.equal(withOverrides(base, { rekorUrl: 'https://r', rekorApiVersion: 2 }).rekor?.majorApiVersion, 2);
  const noTsa = { fulcio: base.fulcio, rekor: { url: 'https://r2', majorApiVersion: 2 as const } };
  assert.throws(() => withOverrides(noTsa, {}), /Rekor v2 gives no signed time/);
  assert.deepEqual(withOverrides(noTsa, { timestampServerUrl: 'https://t/ts' }).tsa, { url: 'https://t/ts' });
  assert.throws(() => withOverrides(PUBLIC_GOOD_SERVICES, { fulcioUrl: 'ftp://x' }), /http\(s\)/);
  // A URL with a user name and password is named without them.
  assert.throws(
    () => withOverrides(PUBLIC_GOOD_SERVICES, { timestampServerUrl: 'ftp://ci:tsa-pw-123@t' }),
    (e: Error) => e.message.endsWith('ftp://[redacted]@t') && !e.message.includes('tsa-pw'),
  );
});

test('payloads: the statement and the simple-signing payload read back with the webhook parsers', () => {
  const statement = parseStatement('application/vnd.in-toto+json', imageStatement(digest));
  assert.equal(statement.type, 'https://in-toto.io/Statement/v1');
  assert.deepEqual(statement.subject, [{ digest: { sha256: 'ab'.repeat(32) } }]);
  assert.deepEqual(statement.predicate, {});
  checkStatement(statement, { digests: [digest], predicateType: COSIGN_SIGN_PREDICATE_TYPE });

  const custom = parseStatement(
    'application/vnd.in-toto+json',
    imageStatement(digest, 'https://slsa.dev/provenance/v1', { a: 1 }),
  );
  assert.deepEqual([custom.predicateType, custom.predicate], ['https://slsa.dev/provenance/v1', { a: 1 }]);

  const payload = simpleSigningPayload('ghcr.io/o/app', digest);
  assert.equal(
    payload.toString(),
    `{"critical":{"identity":{"docker-reference":"ghcr.io/o/app"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`,
  );
  checkSimpleSigning(parseSimpleSigning(payload), { digest, repository: 'ghcr.io/o/app' });
});

test('legacy annotations: signature, leaf, the whole chain, the Rekor v1 SET and the TSA token', () => {
  const body = Buffer.from(JSON.stringify({ kind: 'hashedrekord', apiVersion: '0.0.1', spec: {} }));
  const bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2',
    verificationMaterial: {
      content: { $case: 'x509CertificateChain', x509CertificateChain: { certificates: [] } },
      tlogEntries: [
        {
          logIndex: '42',
          logId: { keyId: Buffer.from('0102', 'hex') },
          kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
          integratedTime: '1764000000',
          inclusionPromise: { signedEntryTimestamp: Buffer.from('set') },
          canonicalizedBody: body,
        },
      ],
      timestampVerificationData: { rfc3161Timestamps: [{ signedTimestamp: Buffer.from('tsr') }] },
    },
    content: {
      $case: 'messageSignature',
      messageSignature: {
        messageDigest: { algorithm: 1, digest: Buffer.alloc(32) },
        signature: Buffer.from('sig'),
      },
    },
  } as unknown as Bundle;
  const leafPem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  const chainPem = [
    '-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n',
    '-----BEGIN CERTIFICATE-----\nCCCC\n-----END CERTIFICATE-----\n',
  ];
  const annotations = legacyAnnotations({ bundle, leafPem, chainPem });
  assert.deepEqual(annotations, {
    [ANNOTATION.signature]: Buffer.from('sig').toString('base64'),
    [ANNOTATION.certificate]: leafPem,
    [ANNOTATION.chain]: chainPem.join(''),
    [ANNOTATION.rekorBundle]: JSON.stringify({
      SignedEntryTimestamp: Buffer.from('set').toString('base64'),
      Payload: { body: body.toString('base64'), integratedTime: 1764000000, logIndex: 42, logID: '0102' },
    }),
    [ANNOTATION.rfc3161Timestamp]: JSON.stringify({
      SignedRFC3161Timestamp: Buffer.from('tsr').toString('base64'),
    }),
  });
  // The webhook's reader maps them back onto a bundle entry with the same log index and SET.
  const back = legacySignatureToBundle({
    mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    annotations,
    blob: Buffer.from('payload'),
  });
  assert.equal(back.bundle.verificationMaterial.tlogEntries[0]?.logIndex, '42');

  // A Rekor v2 entry (proof, no SET) cannot live in this layout: only the TSA timestamp remains.
  const v2 = {
    ...bundle,
    verificationMaterial: {
      ...bundle.verificationMaterial,
      tlogEntries: [{ ...bundle.verificationMaterial.tlogEntries[0], inclusionPromise: undefined }],
    },
  } as unknown as Bundle;
  assert.equal(legacyAnnotations({ bundle: v2, leafPem, chainPem })[ANNOTATION.rekorBundle], undefined);
});
