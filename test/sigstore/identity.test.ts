// Certificate → issuer, subject and named Fulcio extensions, on real certificates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  certificateIdentity,
  FULCIO_EXTENSION_NAMES,
  isFulcioExtensionName,
} from '../../src/sigstore/identity.ts';
import { SigstoreErrorCode } from '../../src/sigstore/errors.ts';
import { ext, readJson } from './ext.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const der = (b64: string): Buffer => Buffer.from(b64, 'base64');
const pemDer = (pem: string): Buffer => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');

test('GitHub Actions certificate: URI subject, .1.8 issuer, every named extension (DER and legacy raw)', () => {
  const bundle = readJson(ext('sigstore-rs/tests/data/bundle_v03.json')) as Json;
  const id = certificateIdentity(der(bundle.verificationMaterial.certificate.rawBytes));
  assert.equal(id.subjectKind, 'uri');
  assert.equal(
    id.subject,
    'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0',
  );
  assert.equal(id.issuer, 'https://token.actions.githubusercontent.com');
  assert.deepEqual(
    { ...id.extensions },
    {
      issuer: 'https://token.actions.githubusercontent.com',
      buildSignerURI:
        'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0',
      buildSignerDigest: '2a6b879b7a5ef59d7fb348d0b5d14314538ac0a6',
      runnerEnvironment: 'github-hosted',
      sourceRepositoryURI: 'https://github.com/kubewarden/kubewarden-controller',
      sourceRepositoryDigest: '2a6b879b7a5ef59d7fb348d0b5d14314538ac0a6',
      sourceRepositoryRef: 'refs/tags/v1.34.0',
      sourceRepositoryIdentifier: '318490971',
      sourceRepositoryOwnerURI: 'https://github.com/kubewarden',
      sourceRepositoryOwnerIdentifier: '80915497',
      buildConfigURI:
        'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0',
      buildConfigDigest: '2a6b879b7a5ef59d7fb348d0b5d14314538ac0a6',
      buildTrigger: 'push',
      runInvocationURI:
        'https://github.com/kubewarden/kubewarden-controller/actions/runs/24177081968/attempts/1',
      sourceRepositoryVisibilityAtSigning: 'public',
      issuerV1: 'https://token.actions.githubusercontent.com',
      githubWorkflowTrigger: 'push',
      githubWorkflowSHA: '2a6b879b7a5ef59d7fb348d0b5d14314538ac0a6',
      githubWorkflowName: 'Release',
      githubWorkflowRepository: 'kubewarden/kubewarden-controller',
      githubWorkflowRef: 'refs/tags/v1.34.0',
    },
  );
});

test('email certificate from 2022 has only the legacy .1.1 issuer; it is used as the issuer', () => {
  const id = certificateIdentity(
    pemDer(readFileSync(ext('containers-image/signature/internal/testdata/rekor-cert'), 'utf8')),
  );
  assert.equal(id.subjectKind, 'email');
  assert.equal(id.subject, 'mitr@redhat.com');
  assert.equal(id.issuer, 'https://github.com/login/oauth');
  assert.equal(id.extensions.issuer, undefined);
  assert.equal(id.extensions.issuerV1, 'https://github.com/login/oauth');
});

test('a username certificate has the OtherName SAN (.1.7) as subject', () => {
  const bundle = readJson(ext('sigstore-go/pkg/testing/data/bundles/othername.sigstore.json')) as Json;
  const id = certificateIdentity(der(bundle.verificationMaterial.certificate.rawBytes));
  assert.equal(id.subjectKind, 'username');
  assert.equal(id.subject, 'foo!oidc.local');
  assert.equal(id.issuer, 'http://oidc.local:8080');
});

test('a CA certificate has no identity; garbage is malformed', () => {
  const [root] = readFileSync(ext('containers-image/signature/fixtures/fulcio_v1.crt.pem'), 'utf8').split(
    /(?<=-----END CERTIFICATE-----)/,
  );
  const id = certificateIdentity(pemDer(root!));
  assert.equal(id.subject, undefined);
  assert.equal(id.issuer, undefined);
  assert.throws(() => certificateIdentity(Buffer.from('nope')), { code: SigstoreErrorCode.bundleMalformed });
});

test('extension names are the Fulcio table names', () => {
  assert.equal(FULCIO_EXTENSION_NAMES.length, 17 + 6);
  assert.ok(isFulcioExtensionName('sourceRepositoryVisibilityAtSigning'));
  assert.ok(isFulcioExtensionName('githubWorkflowRef'));
  assert.ok(!isFulcioExtensionName('toString'));
});
