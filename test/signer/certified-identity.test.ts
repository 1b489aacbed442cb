// `sigward sign` prints the identity Fulcio certified, in a policy's words, once it has the
// certificate: the token's `sub` it printed before is not always that identity (a Kubernetes service
// account's `system:serviceaccount:NS:NAME` is certified as https://kubernetes.io/namespaces/NS/…).
// A real public-good Fulcio certificate (containers/image's fixture) is read here; the whole signing
// run against a real Fulcio is e2e/sign.e2e.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certifiedIdentity } from '../../src/signer/keyless-signer.ts';
import { fulcioRekor } from '../sigstore/discover-fixtures.ts';

test('the certified subject and issuer, quoted as a denial quotes them', () => {
  const pem = fulcioRekor.layer().annotations['dev.sigstore.cosign/certificate'];
  assert.ok(pem !== undefined && pem.includes('BEGIN CERTIFICATE'), 'the fixture carries its certificate');
  assert.equal(
    certifiedIdentity(pem),
    `Certificate for subject "${fulcioRekor.subject}" from issuer "${fulcioRekor.issuer}" (what a policy's keyless identity names)`,
  );
});

test('a certificate it cannot read prints nothing (the verifier is the one to refuse it)', () => {
  assert.equal(
    certifiedIdentity('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
    undefined,
  );
});
