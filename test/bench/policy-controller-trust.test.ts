// The public-good trusted_root.json as policy-controller's TrustRoot `sigstoreKeys` (the bench's peer
// must trust exactly the keys sigward is given): PEM in base64, the chain in order, the hash names
// policy-controller parses, and logs it cannot express left out by name rather than breaking its root.
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { sigstoreKeysOf, type TrustedRootJson } from '../../bench/policy-controller-trust.ts';
import { PROD_ROOT_PATH } from '../sigstore/ext.ts';

const prod = JSON.parse(readFileSync(PROD_ROOT_PATH, 'utf8')) as TrustedRootJson & {
  tlogs: { baseUrl: string; publicKey: { rawBytes: string; keyDetails: string } }[];
  certificateAuthorities: { certChain: { certificates: { rawBytes: string }[] } }[];
};
const text = (b64: unknown): string => Buffer.from(String(b64), 'base64').toString('utf8');
const pemBlocks = (pem: string): string[] =>
  pem.match(/-----BEGIN [A-Z ]+-----\n[\s\S]+?\n-----END [A-Z ]+-----\n/g) ?? [];

describe('sigstoreKeysOf (public-good trusted root → policy-controller TrustRoot)', () => {
  const { keys, leftOut } = sigstoreKeysOf(prod);

  it('keeps every certificate authority with its whole chain, in order, as base64 PEM', () => {
    assert.equal(keys.certificateAuthorities.length, prod.certificateAuthorities.length);
    prod.certificateAuthorities.forEach((ca, i) => {
      const blocks = pemBlocks(text((keys.certificateAuthorities[i] as { certChain: string }).certChain));
      assert.equal(blocks.length, ca.certChain.certificates.length);
      blocks.forEach((block, j) =>
        assert.deepEqual(
          new X509Certificate(block).raw,
          Buffer.from(ca.certChain.certificates[j]!.rawBytes, 'base64'),
        ),
      );
    });
    assert.equal(keys.timestampAuthorities.length, prod.timestampAuthorities?.length);
  });

  it('gives ECDSA log keys as PEM with the hash name policy-controller parses', () => {
    const rekorV1 = prod.tlogs.find((t) => t.publicKey.keyDetails === 'PKIX_ECDSA_P256_SHA_256')!;
    const tlog = keys.tLogs.find((t) => (t as { baseURL: string }).baseURL === rekorV1.baseUrl) as {
      hashAlgorithm: string;
      publicKey: string;
    };
    assert.equal(tlog.hashAlgorithm, 'sha-256');
    assert.deepEqual(
      createPublicKey(text(tlog.publicKey)).export({ type: 'spki', format: 'der' }),
      Buffer.from(rekorV1.publicKey.rawBytes, 'base64'),
    );
    assert.ok(keys.ctLogs.length > 0);
  });

  it('leaves out, by name, a log whose key policy-controller cannot express (Rekor v2, Ed25519)', () => {
    const ed25519 = prod.tlogs.filter((t) => t.publicKey.keyDetails === 'PKIX_ED25519');
    assert.ok(ed25519.length > 0, 'the public-good root has a Rekor v2 (Ed25519) log');
    for (const log of ed25519) {
      assert.ok(
        leftOut.some((l) => l.includes(log.baseUrl) && l.includes('PKIX_ED25519')),
        leftOut.join(),
      );
      assert.ok(!keys.tLogs.some((t) => (t as { baseURL: string }).baseURL === log.baseUrl));
    }
  });

  it('refuses a root without a certificate authority, and a log with an unknown hash', () => {
    assert.throws(() => sigstoreKeysOf({ ...prod, certificateAuthorities: [] }), /no certificate authority/);
    const tlog = { ...prod.tlogs.find((t) => t.publicKey.keyDetails === 'PKIX_ECDSA_P256_SHA_256')! };
    assert.throws(
      () => sigstoreKeysOf({ ...prod, tlogs: [{ ...tlog, hashAlgorithm: 'MD5' }] }),
      /unknown hash MD5/,
    );
  });
});
