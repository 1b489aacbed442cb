// Keyless signing with real parts end to end: a service-account token from the real apiserver (audience
// sigstore) → Fulcio (kubernetes issuer) → Rekor v2 → TSA, and verification against the trusted root
// the world wrote, read from a file and through its signed TUF repository.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleBuilderFromSigningConfig, FulcioSigner, type IdentityProvider } from '@sigstore/sign';
import { getTrustedRoot } from '@sigstore/tuf';
import { toSignedEntity, toTrustMaterial, Verifier, type VerificationPolicy } from '@sigstore/verify';
import { createClients, writeSecretFile } from './world/clients.ts';
import { startKube, type Kube } from './world/kube.ts';
import { startOidcIssuer, type OidcIssuerServer } from './world/oidc-issuer.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import { startSigstore, type Sigstore } from './world/sigstore.ts';
import { signingConfigMediaType, trustedRootMediaType } from './world/trust.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const namespace = 'release';
const serviceAccount = 'builder';
const identity = `https://kubernetes.io/namespaces/${namespace}/serviceaccounts/${serviceAccount}`;
// No CT log in this tier: certificates carry no SCT. Rekor v2 gives no signed time; the TSA does.
const verifierOptions = { ctlogThreshold: 0, tlogThreshold: 1, timestampThreshold: 1 };

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

function verify(
  root: TrustedRoot,
  bundle: Bundle,
  artifact: Buffer | undefined,
  policy?: VerificationPolicy,
) {
  const verifier = new Verifier(toTrustMaterial(root), verifierOptions);
  return verifier.verify(toSignedEntity(bundle, artifact), policy);
}

describe('sigstore world: keyless signing with a Kubernetes identity', () => {
  let runDir: RunDir;
  let kube: Kube;
  let humans: OidcIssuerServer;
  let sigstore: Sigstore;
  let trustedRoot: TrustedRoot;
  let signingConfig: SigningConfig;
  let failed = false;
  const artifact = Buffer.from('sigward e2e artifact\n');
  let messageBundle: Bundle | undefined;

  const tokenFor = (audience: string): IdentityProvider => ({
    getToken: () => kube.createToken(namespace, serviceAccount, { audience }),
  });
  const check = stepsNotingFailure(() => (failed = true));

  before(async () => {
    runDir = createRunDir('sigward-sigstore-');
    try {
      [kube, humans] = await Promise.all([startKube(runDir), startOidcIssuer()]);
      // A second issuer, of type email, to show Fulcio takes any OIDC issuer besides the apiserver.
      sigstore = await startSigstore(runDir, {
        issuer: kube.issuer,
        issuerCaPem: kube.caPem,
        moreIssuers: [{ url: humans.issuer, type: 'email' }],
      });
      await kube.ensureNamespace(namespace);
      await kube.createServiceAccount(namespace, serviceAccount);
      trustedRoot = TrustedRoot.fromJSON(readJson(sigstore.trustedRootPath));
      signingConfig = SigningConfig.fromJSON(readJson(sigstore.signingConfigPath));
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await sigstore?.stop();
    await Promise.all([kube?.stop(), humans?.stop()]);
    if (failed) console.error(`sigstore e2e: logs kept in ${runDir.keepLogs('sigstore')}`);
    runDir.remove();
  });

  check('the trust material describes exactly the running services', async () => {
    assert.equal(trustedRoot.mediaType, trustedRootMediaType);
    assert.equal(signingConfig.mediaType, signingConfigMediaType);
    const [ca] = trustedRoot.certificateAuthorities;
    const served = await (await fetch(`${sigstore.fulcioUrl}/api/v1/rootCert`)).text();
    const servedDer = served
      .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)
      ?.map((pem) => new X509Certificate(pem).raw.toString('base64'));
    assert.deepEqual(
      ca?.certChain?.certificates.map((c) => Buffer.from(c.rawBytes).toString('base64')),
      servedDer,
      'the trusted root lists the chain Fulcio serves, intermediate first',
    );
    assert.equal(trustedRoot.tlogs[0]?.baseUrl, sigstore.rekorUrl);
    assert.equal(trustedRoot.ctlogs.length, 0);
    assert.equal(
      trustedRoot.timestampAuthorities[0]?.certChain?.certificates.length,
      sigstore.tsa.chainPem.length,
    );
    assert.deepEqual(
      signingConfig.rekorTlogUrls.map((s) => [s.url, s.majorApiVersion]),
      [[sigstore.rekorUrl, 2]],
    );
    assert.deepEqual(
      signingConfig.tsaUrls.map((s) => s.url),
      [sigstore.tsaUrl],
    );
  });

  check('a blob signed with the apiserver token verifies with the SA identity and issuer', async () => {
    const builder = bundleBuilderFromSigningConfig({
      signingConfig,
      identityProvider: tokenFor('sigstore'),
      bundleType: 'messageSignature',
    });
    const bundle = await builder.create({ data: artifact });
    messageBundle = bundle;
    const [entry] = bundle.verificationMaterial.tlogEntries;
    assert.deepEqual(entry?.kindVersion, { kind: 'hashedrekord', version: '0.0.2' });
    assert.equal(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.length, 1);

    const signer = verify(trustedRoot, bundle, artifact, {
      subjectAlternativeName: identity,
      extensions: { issuer: kube.issuer },
    });
    // The policy match is an unanchored regex: compare exactly as well.
    assert.equal(signer.identity?.subjectAlternativeName, identity);
    assert.equal(signer.identity?.extensions?.issuer, kube.issuer);
  });

  check('a second, email-type issuer gives a certificate for the verified email', async () => {
    const email = 'release-manager@sigward.test';
    const builder = bundleBuilderFromSigningConfig({
      signingConfig,
      identityProvider: {
        getToken: async () =>
          humans.mintToken({ sub: 'user-42', aud: 'sigstore', email, email_verified: true }),
      },
      bundleType: 'messageSignature',
    });
    const bundle = await builder.create({ data: artifact });
    const signer = verify(trustedRoot, bundle, artifact, { extensions: { issuer: humans.issuer } });
    assert.equal(signer.identity?.subjectAlternativeName, email);
  });

  check('Rekor v2.3.0 refuses a DSSE entry from @sigstore/sign 5.1 (it logs only hashedrekord)', async () => {
    // Upstream state, pinned here so a change shows: rekor-tiles v2.3.0 dropped `dsse` entries, while
    // @sigstore/sign 5.1.0 still sends dsseRequestV002 for DSSE bundles. cosign v3 logs attestations as
    // hashedrekord instead (see the cosign attest-blob test), which @sigstore/verify 4 accepts.
    const builder = bundleBuilderFromSigningConfig({
      signingConfig,
      identityProvider: tokenFor('sigstore'),
      bundleType: 'dsseEnvelope',
    });
    await assert.rejects(
      builder.create({ data: artifact, type: 'application/vnd.in-toto+json' }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'TLOG_CREATE_ENTRY_ERROR');
        assert.match(error.message, /\(400\) invalid type, must be hashedrekord/);
        return true;
      },
    );
  });

  check('Fulcio refuses a token for another audience, saying why', async () => {
    const signer = new FulcioSigner({
      fulcioBaseURL: sigstore.fulcioUrl,
      identityProvider: tokenFor('not-sigstore'),
    });
    await assert.rejects(signer.sign(artifact), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CA_CREATE_SIGNING_CERTIFICATE_ERROR');
      assert.match(error.message, /\(400\) There was an error processing the identity token/);
      return true;
    });
    // The client only hears "error processing the identity token"; the reason is in Fulcio's log,
    // which reaches the file a moment after the answer.
    const reason = /oidc: expected audience "sigstore" got \["not-sigstore"\]/;
    const deadline = Date.now() + 5000;
    while (!reason.test(readFileSync(sigstore.fulcio.service.logFile, 'utf8')) && Date.now() < deadline)
      await delay(50);
    assert.match(readFileSync(sigstore.fulcio.service.logFile, 'utf8'), reason);
  });

  check(
    'verification fails without our Fulcio CA in the trusted root, and for another identity',
    async () => {
      assert.ok(messageBundle, 'needs the signed blob of the earlier test');
      const withoutCa = TrustedRoot.fromJSON({
        ...readJson(sigstore.trustedRootPath),
        certificateAuthorities: [],
      });
      assert.throws(
        () => verify(withoutCa, messageBundle as Bundle, artifact),
        (error: Error & { code?: string }) => error.code === 'CERTIFICATE_ERROR',
      );
      assert.throws(
        () =>
          verify(trustedRoot, messageBundle as Bundle, artifact, {
            subjectAlternativeName: '^https://kubernetes\\.io/namespaces/release/serviceaccounts/deployer$',
          }),
        (error: Error & { code?: string }) => error.code === 'UNTRUSTED_SIGNER_ERROR',
      );
    },
  );

  check('cosign v3 signs against the stack and verifies with our trust material', async (t) => {
    const clients = createClients(runDir);
    try {
      await clients.cosign(['version']);
    } catch (error) {
      t.skip(`cosign is not usable here: ${(error as Error).message.split('\n')[0]}`);
      return;
    }
    const dir = runDir.sub('cosign');
    const blob = path.join(dir, 'blob.txt');
    const bundlePath = path.join(dir, 'blob.sigstore.json');
    writeFileSync(blob, artifact);
    const tokenFile = writeSecretFile(
      dir,
      'token',
      await kube.createToken(namespace, serviceAccount, { audience: 'sigstore' }),
    );
    await clients.cosign([
      'sign-blob',
      '--yes',
      `--signing-config=${sigstore.signingConfigPath}`,
      `--trusted-root=${sigstore.trustedRootPath}`,
      `--identity-token=${tokenFile}`,
      `--bundle=${bundlePath}`,
      blob,
    ]);
    await clients.cosign([
      'verify-blob',
      `--trusted-root=${sigstore.trustedRootPath}`,
      `--bundle=${bundlePath}`,
      `--certificate-identity=${identity}`,
      `--certificate-oidc-issuer=${kube.issuer}`,
      '--insecure-ignore-sct',
      blob,
    ]);
    const signer = verify(trustedRoot, bundleFromJSON(readJson(bundlePath)), artifact);
    assert.equal(signer.identity?.subjectAlternativeName, identity);

    // An attestation: cosign logs the DSSE signature as hashedrekord 0.0.2, and we verify it.
    const predicate = path.join(dir, 'predicate.json');
    const attestationPath = path.join(dir, 'blob.intoto.sigstore.json');
    writeFileSync(predicate, '{"built-by":"sigward e2e"}\n');
    await clients.cosign([
      'attest-blob',
      '--yes',
      `--signing-config=${sigstore.signingConfigPath}`,
      `--trusted-root=${sigstore.trustedRootPath}`,
      `--identity-token=${tokenFile}`,
      '--type=custom',
      `--predicate=${predicate}`,
      `--bundle=${attestationPath}`,
      blob,
    ]);
    const attestation = bundleFromJSON(readJson(attestationPath));
    assert.equal(attestation.content.$case, 'dsseEnvelope');
    assert.deepEqual(attestation.verificationMaterial.tlogEntries[0]?.kindVersion, {
      kind: 'hashedrekord',
      version: '0.0.2',
    });
    const attester = verify(trustedRoot, attestation, undefined, { extensions: { issuer: kube.issuer } });
    assert.equal(attester.identity?.subjectAlternativeName, identity);

    // The same trust material through the world's TUF repository instead of a file.
    sigstore.tuf.repo.requests.length = 0;
    await clients.cosign([
      'initialize',
      `--mirror=${sigstore.tuf.mirrorUrl}`,
      `--root=${sigstore.tuf.rootPath}`,
    ]);
    await clients.cosign([
      'verify-blob',
      `--bundle=${bundlePath}`,
      `--certificate-identity=${identity}`,
      `--certificate-oidc-issuer=${kube.issuer}`,
      '--insecure-ignore-sct',
      blob,
    ]);
    assert.ok(
      // The repository names each target by its sha256 and its sha512; cosign asks for either.
      sigstore.tuf.repo.requests.some((r) =>
        /^200 \/targets\/(?:[0-9a-f]{64}|[0-9a-f]{128})\.trusted_root\.json$/.test(r),
      ),
      `cosign fetched the trusted root from our mirror: ${sigstore.tuf.repo.requests.join(', ')}`,
    );
  });

  check('the TUF repository serves the trusted root, and a published new version is picked up', async () => {
    assert.ok(messageBundle, 'needs the signed blob of the earlier test');
    const cachePath = runDir.sub('tuf-client-cache');
    const tufOptions = { mirrorURL: sigstore.tuf.mirrorUrl, rootPath: sigstore.tuf.rootPath, cachePath };
    const fromTuf = await getTrustedRoot(tufOptions);
    assert.deepEqual(TrustedRoot.toJSON(fromTuf), TrustedRoot.toJSON(trustedRoot));
    verify(fromTuf, messageBundle as Bundle, artifact, { extensions: { issuer: kube.issuer } });

    // Next version drops the TSA: what the client then trusts can no longer verify the blob.
    const next = { ...readJson(sigstore.trustedRootPath), timestampAuthorities: [] };
    sigstore.tuf.repo.requests.length = 0;
    sigstore.tuf.repo.publish({ targets: { 'trusted_root.json': JSON.stringify(next) }, rotateKeys: true });
    const refreshed = await getTrustedRoot(tufOptions);
    assert.equal(refreshed.timestampAuthorities.length, 0);
    assert.ok(sigstore.tuf.repo.requests.includes('200 /2.root.json'), sigstore.tuf.repo.requests.join(', '));
    assert.throws(() => verify(refreshed, messageBundle as Bundle, artifact));
  });
});
