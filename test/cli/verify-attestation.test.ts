// `sigward verify-attestation` against a real registry (Debian's docker-registry), offline: the real
// public-good `cosign attest` bundle (keyless) and SLSA v1 provenance attested here with a key, in the
// legacy .att tag and as a bundle referrer. cosign's flags, with --condition CEL for --policy.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runVerifyAttestation } from '../../src/cli/verify-attestation.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { pushTestImage } from '../support/images.ts';
import { cosignAttestation, pushBundleReferrer } from '../sigstore/discover-fixtures.ts';
import {
  MAIN_REF_CONDITION as MAIN,
  attestationSigner,
  envelopeLayer,
  provenanceStatement,
  pushLegacyAttestations,
  pushProvenanceReferrer,
} from '../sigstore/attestation-fixtures.ts';
import type { AttestationSigner } from '../sigstore/attestation-fixtures.ts';
import { PROD_ROOT_PATH } from '../sigstore/ext.ts';

let registry: DockerRegistry;
let client: RegistryClient;
let home: string;
let signer: AttestationSigner;
let keyFile: string;
let legacyImage: string;
let bundleImage: string;
const root = `--trusted-root=${PROD_ROOT_PATH}`;

before(async () => {
  registry = await startDockerRegistry();
  client = new RegistryClient();
  home = mkdtempSync(join(tmpdir(), 'sigward-verify-att-cli-'));
  signer = attestationSigner();
  keyFile = join(home, 'builder.pub');
  writeFileSync(keyFile, signer.pem);
  await pushBundleReferrer(
    client,
    { registry: registry.host, repository: 'cli/empty' },
    cosignAttestation.digest,
    cosignAttestation.bundle(),
    { predicateType: cosignAttestation.predicateType },
  );
  const legacyRepo: RepositoryName = { registry: registry.host, repository: 'cli/legacy' };
  const legacy = await pushTestImage(client, legacyRepo, { tag: 'v1' });
  await pushLegacyAttestations(client, legacyRepo, legacy.digest, [
    envelopeLayer(signer, provenanceStatement(legacy.digest, 'refs/heads/main')),
  ]);
  legacyImage = `${registry.host}/cli/legacy:v1`;
  const bundleRepo: RepositoryName = { registry: registry.host, repository: 'cli/bundle' };
  const bundled = await pushTestImage(client, bundleRepo, { tag: 'v1' });
  await pushProvenanceReferrer(client, bundleRepo, bundled.digest, signer, 'refs/heads/dev');
  bundleImage = `${registry.host}/cli/bundle@${bundled.digest}`;
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await client?.close();
  await registry?.stop();
});

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await runVerifyAttestation(
    args,
    { out: (t) => (out += t), err: (t) => (err += t) },
    { HOME: home },
  );
  return { code, out, err };
}

const cody = [
  '--certificate-identity=cody@soyland.com',
  '--certificate-oidc-issuer=https://github.com/login/oauth',
];

test('keyless: the real cosign attest bundle, default --type custom, a condition on its predicate', async () => {
  const image = `${registry.host}/cli/empty@${cosignAttestation.digest}`;
  const ok = await run([root, ...cody, '--condition', 'predicate.Data.contains("foo")', image]);
  assert.equal(ok.code, 0, ok.err);
  assert.equal(
    ok.out,
    `${image}: attestation custom (https://cosign.sigstore.dev/attestation/v1): 1 condition(s) hold; signed by subject "cody@soyland.com" from issuer "https://github.com/login/oauth"\n`,
  );

  const other = await run([
    root,
    '--certificate-identity=x@example.com',
    '--certificate-oidc-issuer=https://github.com/login/oauth',
    image,
  ]);
  assert.equal(other.code, 1);
  assert.match(other.err, /none of 1 is accepted: .*cody@soyland\.com.* \[IDENTITY_SUBJECT_MISMATCH\]\n$/);

  const json = await run([root, ...cody, '--output=json', '--type', 'slsaprovenance1', image]);
  assert.equal(json.code, 1);
  const parsed = JSON.parse(json.out) as { status: string; code: string; message: string };
  assert.equal(parsed.status, 'rejected');
  assert.equal(parsed.code, 'ATTESTATION_MISSING');
  assert.match(parsed.message, /found only 1 of https:\/\/cosign\.sigstore\.dev\/attestation\/v1/);
});

test('key: legacy .att tag resolved from a tag; a bundle referrer whose condition is false', async () => {
  const ok = await run([
    root,
    '--key',
    keyFile,
    '--insecure-ignore-tlog',
    '--type',
    'slsaprovenance1',
    '--condition',
    MAIN,
    legacyImage,
  ]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(
    ok.out,
    /cli\/legacy@sha256:[0-9a-f]{64}: attestation slsaprovenance1 \(https:\/\/slsa\.dev\/provenance\/v1\): 1 condition\(s\) hold; signed by the key\n$/,
  );

  const dev = await run([
    root,
    '--key',
    keyFile,
    '--insecure-ignore-tlog',
    '--type',
    'https://slsa.dev/provenance/v1',
    '--condition',
    MAIN,
    bundleImage,
  ]);
  assert.equal(dev.code, 1);
  assert.match(
    dev.err,
    /condition\[0\] `.*` is false; it saw predicate\.buildDefinition\.externalParameters\.workflow\.ref = "refs\/heads\/dev" \[ATTESTATION_CONDITION_FAILED\]\n$/,
  );
});

test('usage errors name the flag: a condition that does not type-check, an unknown --type', async () => {
  const bad = await run(['--key', keyFile, '--condition', 'now > 5', bundleImage]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^sigward verify-attestation: --condition #1 does not compile: no such overload/);
  const type = await run(['--key', keyFile, '--type', 'provenance', bundleImage]);
  assert.equal(type.code, 1);
  assert.match(
    type.err,
    /^sigward verify-attestation: --type provenance: not a URI nor one of slsaprovenance, /,
  );
  const none = await run(['--type', 'vuln', bundleImage]);
  assert.match(none.err, /give --key, or --certificate-identity and --certificate-oidc-issuer/);
});
