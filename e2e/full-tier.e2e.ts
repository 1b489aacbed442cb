// The opt-in full tier (`npm run e2e:full`): legacy cosign signatures as most images in the wild still
// carry them. cosign v2 signs keylessly with a real apiserver token against Fulcio, which embeds an SCT
// from our CT log (TesseraCT), and Rekor v1 (Trillian on MariaDB), which gives the `.sig` signature its
// signed entry timestamp. Then cosign v2 and @sigstore/verify check all of it against the trust
// material the world wrote, and fail where they must.
//
// Without SIGWARD_E2E_TIER=full the whole file is reported as skipped, saying so. In the full tier a
// missing tool is a failure with its one-line message, never a skip.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { X509Certificate as SigstoreCertificate } from '@sigstore/core';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleBuilderFromSigningConfig } from '@sigstore/sign';
import { toSignedEntity, toTrustMaterial, Verifier, VerificationError } from '@sigstore/verify';
import { legacySignatureToBundle } from '../src/sigstore/legacy.ts';
import { createClients, runTool, writeSecretFile, type Clients } from './world/clients.ts';
import { kubernetesIssuer } from './world/fulcio.ts';
import { startFullTier, type FullTier } from './world/full-tier.ts';
import { pushImage, type PushedImage } from './world/images.ts';
import { startKube, type Kube } from './world/kube.ts';
import { getBlob, getManifest, type Descriptor } from './world/oci-http.ts';
import { startOlareg, type Registry } from './world/registry.ts';
import { repoRoot } from './world/tools.ts';
import { createRunDir, type RunDir } from './world/run-dir.ts';
import { legacyTrustedRoot } from './world/trust-full.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const fullTier = process.env.SIGWARD_E2E_TIER === 'full';
const suiteName = 'full tier: legacy cosign v2 signatures with SCTs and Rekor v1';

const namespace = 'legacy';
const serviceAccount = 'signer';
const identity = `https://kubernetes.io/namespaces/${namespace}/serviceaccounts/${serviceAccount}`;
const otherIdentity = `https://kubernetes.io/namespaces/${namespace}/serviceaccounts/someone-else`;
const annotation = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  bundle: 'dev.sigstore.cosign/bundle',
};
const sctExtensionOid = '1.3.6.1.4.1.11129.2.4.2';

/** cosign's `dev.sigstore.cosign/bundle` annotation: the Rekor v1 SET and what it signs. */
interface RekorBundle {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}

interface LegacySignature {
  layer: Descriptor;
  payload: Buffer;
  certificatePem: string;
  rekorBundle: RekorBundle;
}

/** A cosign `.sig` layer as a v0.1 Sigstore bundle (shared/notes/sigstore-formats.md §3.2). */
function bundleOf(signature: LegacySignature): Bundle {
  const { Payload } = signature.rekorBundle;
  const body = JSON.parse(Buffer.from(Payload.body, 'base64').toString('utf8')) as {
    kind: string;
    apiVersion: string;
  };
  const certificateDer = new X509Certificate(signature.certificatePem).raw;
  return bundleFromJSON({
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: [{ rawBytes: certificateDer.toString('base64') }] },
      tlogEntries: [
        {
          logIndex: String(Payload.logIndex),
          logId: { keyId: Buffer.from(Payload.logID, 'hex').toString('base64') },
          kindVersion: { kind: body.kind, version: body.apiVersion },
          integratedTime: String(Payload.integratedTime),
          inclusionPromise: { signedEntryTimestamp: signature.rekorBundle.SignedEntryTimestamp },
          canonicalizedBody: Payload.body,
        },
      ],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    messageSignature: {
      messageDigest: {
        algorithm: 'SHA2_256',
        digest: createHash('sha256').update(signature.payload).digest('base64'),
      },
      signature: signature.layer.annotations?.[annotation.signature] ?? '',
    },
  });
}

// In the full tier the suite runs, and a missing tool fails it with that tool's one-line message.
// Outside it: one test, reported as skipped with the reason (a skipped suite would count no test).
if (fullTier) describe(suiteName, fullTierSuite);
else test(suiteName, { skip: 'opt-in full tier: run `npm run e2e:full` (sets SIGWARD_E2E_TIER=full)' });

function fullTierSuite(): void {
  let runDir: RunDir;
  let kube: Kube | undefined;
  let full: FullTier | undefined;
  let registry: Registry | undefined;
  let clients: Clients;
  let image: PushedImage;
  let signature: LegacySignature | undefined;
  let failed = false;

  const world = () => {
    assert.ok(kube && full && registry, 'the world did not start');
    return { kube, full, registry };
  };
  const check = stepsNotingFailure(() => (failed = true));
  const signed = (): LegacySignature => {
    assert.ok(signature, 'cosign v2 did not sign (see the signing test)');
    return signature;
  };

  before(async () => {
    runDir = createRunDir('sigward-full-');
    try {
      const began = performance.now();
      // The apiserver is the OIDC issuer Fulcio trusts, so it comes first; the registry meanwhile.
      [kube, registry] = await Promise.all([startKube(runDir), startOlareg(runDir, { referrers: false })]);
      full = await startFullTier(runDir, { issuers: [kubernetesIssuer(kube.issuer, kube.caPem)] });
      const ready = Math.round(performance.now() - began);
      console.log(
        `full tier started in ${full.startupMs.total} ms (Fulcio ${full.startupMs.fulcio}, Rekor v1 ${full.startupMs.rekorV1}, CT log ${full.startupMs.ctlog}); with kube and registry ${ready} ms`,
      );
      await kube.ensureNamespace(namespace);
      await kube.createServiceAccount(namespace, serviceAccount);
      clients = createClients(runDir);
      image = await pushImage(
        { crane: clients.crane, workDir: runDir.sub('images') },
        registry.host,
        'legacy/app',
        'v1',
      );
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await full?.stop();
    await Promise.allSettled([kube?.stop(), registry?.stop()]);
    if (runDir) {
      if (failed) console.error(`full-tier e2e: logs kept in ${runDir.keepLogs('full-tier')}`);
      runDir.remove();
    }
  });

  check('MariaDB is private: loopback only, Trillian schema loaded, its user owns nothing else', async () => {
    const { full } = world();
    const db = full.rekorV1.db;
    const settings = await db.query('trillian', 'SELECT @@bind_address, @@port, @@skip_networking');
    assert.deepEqual(settings.trim().split('\t'), ['127.0.0.1', String(db.port), '0']);
    const tables = (await db.query('trillian', 'SHOW TABLES')).trim().split('\n');
    for (const table of [
      'Trees',
      'TreeControl',
      'Subtree',
      'TreeHead',
      'LeafData',
      'SequencedLeafData',
      'Unsequenced',
    ])
      assert.ok(tables.includes(table), `table ${table} in ${tables.join(', ')}`);
    await assert.rejects(db.query('mysql', 'SELECT 1'), /Access denied/);
  });

  check('Rekor v1 serves the signer key it was given, and the trusted root lists it', async () => {
    const { full } = world();
    const served = await (await fetch(`${full.rekorV1.url}/api/v1/log/publicKey`)).text();
    assert.equal(served.trim(), full.rekorV1.publicKeyPem.trim());
    const info = (await (await fetch(`${full.rekorV1.url}/api/v1/log`)).json()) as { treeID: string };
    assert.equal(info.treeID, full.rekorV1.treeId);

    const root = full.trust.trustedRoot;
    const tlog = root.tlogs.find((log) => log.baseUrl === full.rekorV1.url);
    assert.ok(tlog, 'Rekor v1 is in the trusted root');
    assert.deepEqual(Buffer.from(tlog.logId?.keyId ?? []), full.rekorV1.logId);
    assert.deepEqual(
      root.ctlogs.map((log) => [log.baseUrl, Buffer.from(log.logId?.keyId ?? []).toString('hex')]),
      [[full.ctlog.url, full.ctlog.logId.toString('hex')]],
    );
  });

  check(
    '@sigstore/sign with the signing config (Fulcio with CT, Rekor v1): SCT, SET and proof verify',
    async () => {
      const { kube, full } = world();
      const signingConfig = SigningConfig.fromJSON(
        JSON.parse(readFileSync(full.trust.signingConfigPath, 'utf8')),
      );
      const builder = bundleBuilderFromSigningConfig({
        signingConfig,
        identityProvider: {
          getToken: () => kube.createToken(namespace, serviceAccount, { audience: 'sigstore' }),
        },
        bundleType: 'messageSignature',
      });
      const artifact = Buffer.from('sigward full tier artifact\n');
      const bundle = await builder.create({ data: artifact });
      const [entry] = bundle.verificationMaterial.tlogEntries;
      assert.deepEqual(entry?.kindVersion, { kind: 'hashedrekord', version: '0.0.1' });
      assert.deepEqual(
        Buffer.from(entry?.logId?.keyId ?? []),
        full.rekorV1.logId,
        'the entry is in our Rekor v1',
      );
      assert.ok(entry?.inclusionPromise, 'Rekor v1 gave a SET');
      assert.ok(entry?.inclusionProof?.checkpoint?.envelope.startsWith(`${full.rekorV1.hostname} - `));

      const certificate = bundle.verificationMaterial.content;
      assert.equal(certificate.$case, 'x509CertificateChain');
      const leaf = certificate.x509CertificateChain.certificates[0]?.rawBytes ?? Buffer.alloc(0);
      const scts = SigstoreCertificate.parse(Buffer.from(leaf)).extSCT?.signedCertificateTimestamps ?? [];
      assert.deepEqual(
        scts.map((sct) => sct.logID),
        [full.ctlog.logId],
        'one SCT, from our CT log',
      );
      const signer = new Verifier(toTrustMaterial(full.trust.trustedRoot), {
        ctlogThreshold: 1,
        tlogThreshold: 1,
        timestampThreshold: 1,
      }).verify(toSignedEntity(bundle, artifact), { extensions: { issuer: kube.issuer } });
      assert.equal(signer.identity?.subjectAlternativeName, identity);
    },
  );

  check(
    'cosign v2 keyless-signs the image in the legacy format: .sig tag, certificate, Rekor v1 SET',
    async () => {
      const { kube, full, registry } = world();
      const token = await kube.createToken(namespace, serviceAccount, { audience: 'sigstore' });
      const tokenFile = writeSecretFile(runDir.root, 'cosign2-token', token);
      await clients.cosign2([
        'sign',
        '--yes',
        `--fulcio-url=${full.fulcio.url}`,
        `--rekor-url=${full.rekorV1.url}`,
        `--identity-token=${tokenFile}`,
        // cosign checks the new certificate's SCT against the CT log in this root before it signs.
        `--trusted-root=${full.trust.trustedRootPath}`,
        image.byDigest,
      ]);

      const tag = `${image.digest.replace(':', '-')}.sig`;
      const manifest = await getManifest(registry.url, image.repository, tag);
      assert.ok(manifest, `cosign v2 pushed ${image.repository}:${tag}`);
      const [layer] = manifest.json.layers ?? [];
      assert.ok(layer && manifest.json.layers?.length === 1, 'one signature layer');
      assert.equal(layer.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
      const annotations = layer.annotations ?? {};
      for (const key of Object.values(annotation)) assert.ok(annotations[key], `annotation ${key}`);

      const payload = await getBlob(registry.url, image.repository, layer.digest);
      const simpleSigning = JSON.parse(payload.toString('utf8')) as {
        critical: { type: string; image: { 'docker-manifest-digest': string } };
      };
      assert.equal(simpleSigning.critical.type, 'cosign container image signature');
      assert.equal(simpleSigning.critical.image['docker-manifest-digest'], image.digest);

      const rekorBundle = JSON.parse(annotations[annotation.bundle] ?? '') as RekorBundle;
      assert.equal(rekorBundle.Payload.logID, full.rekorV1.logIdHex, 'the SET is from our Rekor v1');
      const body = JSON.parse(Buffer.from(rekorBundle.Payload.body, 'base64').toString('utf8')) as {
        kind: string;
        apiVersion: string;
      };
      assert.deepEqual([body.kind, body.apiVersion], ['hashedrekord', '0.0.1']);
      signature = { layer, payload, certificatePem: annotations[annotation.certificate] ?? '', rekorBundle };
    },
  );

  check('cosign v2 verify accepts the signer identity and refuses another', async () => {
    const { kube, full } = world();
    signed();
    const verify = (who: string, trustedRoot = full.trust.trustedRootPath) =>
      clients.cosign2(
        [
          'verify',
          `--trusted-root=${trustedRoot}`,
          `--rekor-url=${full.rekorV1.url}`,
          `--certificate-identity=${who}`,
          `--certificate-oidc-issuer=${kube.issuer}`,
          image.byDigest,
        ],
        { check: false },
      );
    const good = await verify(identity);
    assert.equal(good.code, 0, good.stderr);
    assert.match(
      good.stderr,
      /The code-signing certificate was verified using trusted certificate authority/,
    );
    const verified = JSON.parse(good.stdout) as {
      critical: { image: { 'docker-manifest-digest': string } };
    }[];
    assert.equal(verified[0]?.critical.image['docker-manifest-digest'], image.digest);

    const other = await verify(otherIdentity);
    assert.notEqual(other.code, 0, 'another identity must not verify');
    assert.match(other.stderr, /none of the expected identities matched/);

    // The same signature against a root without our CT log: the SCT can no longer be checked.
    const noCt = TrustedRoot.toJSON({ ...full.trust.trustedRoot, ctlogs: [] });
    const noCtFile = path.join(runDir.root, 'trusted_root-no-ct.json');
    writeFileSync(noCtFile, JSON.stringify(noCt));
    const withoutCt = await verify(identity, noCtFile);
    assert.notEqual(withoutCt.code, 0, 'an SCT from a log the root does not list must fail');
    assert.match(withoutCt.stderr, /only able to verify 0 SCT entries/);
  });

  check(
    "sigward verify (the webhook's verification path) accepts the legacy signature, SCT and SET included",
    async () => {
      const { kube, full } = world();
      signed();
      const sigward = (who: string, trustedRoot = full.trust.trustedRootPath) =>
        runTool(
          process.execPath,
          [
            path.join(repoRoot, 'src', 'cli', 'main.ts'),
            'verify',
            `--trusted-root=${trustedRoot}`,
            `--certificate-identity=${who}`,
            `--certificate-oidc-issuer=${kube.issuer}`,
            '--output=json',
            image.byDigest,
          ],
          clients.env,
          { check: false },
        );
      const good = await sigward(identity);
      assert.equal(good.code, 0, `${good.stdout}\n${good.stderr}`);
      const verdict = (result: { stdout: string }) =>
        JSON.parse(result.stdout) as { status: string; code?: string };
      assert.equal(verdict(good).status, 'verified');
      const other = await sigward(otherIdentity);
      assert.notEqual(other.code, 0, 'another identity must not verify');
      assert.equal(verdict(other).code, 'IDENTITY_SUBJECT_MISMATCH');
      const noCt = TrustedRoot.toJSON({ ...full.trust.trustedRoot, ctlogs: [] });
      const noCtFile = path.join(runDir.root, 'trusted_root-no-ct-sigward.json');
      writeFileSync(noCtFile, JSON.stringify(noCt));
      const withoutCt = await sigward(identity, noCtFile);
      assert.notEqual(withoutCt.code, 0, 'an SCT from a log the root does not list must fail');
      assert.equal(verdict(withoutCt).code, 'SIGSTORE_CERTIFICATE_UNTRUSTED');
      assert.match(withoutCt.stdout, /SCT verification failed/);
    },
  );

  check(
    'sigward sign --format legacy (Fulcio with CT, Rekor v1) makes a signature cosign v2 accepts',
    async () => {
      const { kube, full, registry } = world();
      const target = await pushImage(
        { crane: clients.crane, workDir: runDir.sub('images') },
        registry.host,
        'legacy/by-sigward',
        'v1',
      );
      const token = await kube.createToken(namespace, serviceAccount, { audience: 'sigstore' });
      const tokenFile = writeSecretFile(runDir.root, 'sigward-token', token);
      const signedBySigward = await runTool(
        process.execPath,
        [
          path.join(repoRoot, 'src', 'cli', 'main.ts'),
          'sign',
          '--format=legacy',
          `--signing-config=${full.trust.signingConfigPath}`,
          `--trusted-root=${full.trust.trustedRootPath}`,
          `--identity-token=${tokenFile}`,
          target.byDigest,
        ],
        clients.env,
        { check: false },
      );
      assert.equal(signedBySigward.code, 0, `${signedBySigward.stdout}\n${signedBySigward.stderr}`);

      const layer = (
        await getManifest(registry.url, target.repository, `${target.digest.replace(':', '-')}.sig`)
      )?.json.layers?.[0];
      const rekorBundle = JSON.parse(layer?.annotations?.[annotation.bundle] ?? 'null') as RekorBundle | null;
      assert.equal(rekorBundle?.Payload.logID, full.rekorV1.logIdHex, 'a SET from our Rekor v1');

      const verified = await clients.cosign2(
        [
          'verify',
          `--trusted-root=${full.trust.trustedRootPath}`,
          `--rekor-url=${full.rekorV1.url}`,
          `--certificate-identity=${identity}`,
          `--certificate-oidc-issuer=${kube.issuer}`,
          target.byDigest,
        ],
        { check: false },
      );
      assert.equal(verified.code, 0, verified.stderr);
    },
  );

  check(
    "Fulcio's certificate carries an SCT that verifies against our CT log key (@sigstore/verify)",
    async () => {
      const { kube, full } = world();
      const legacy = signed();
      const certificate = SigstoreCertificate.parse(legacy.certificatePem);
      const scts = certificate.extSCT?.signedCertificateTimestamps ?? [];
      assert.equal(scts.length, 1, `one SCT (extension ${sctExtensionOid})`);
      assert.deepEqual(scts[0]?.logID, full.ctlog.logId, 'the SCT is from our CT log');

      const bundle = bundleOf(legacy);
      const strict = { ctlogThreshold: 1, tlogThreshold: 1, timestampThreshold: 1 };
      const signer = new Verifier(toTrustMaterial(full.trust.trustedRoot), strict).verify(
        toSignedEntity(bundle, legacy.payload),
        { extensions: { issuer: kube.issuer } },
      );
      assert.equal(signer.identity?.subjectAlternativeName, identity);
      assert.equal(signer.identity?.extensions?.issuer, kube.issuer);

      // sigward's own mapping of the layer (src/sigstore/legacy.ts, what the webhook uses) verifies alike.
      const ours = legacySignatureToBundle({
        mediaType: legacy.layer.mediaType,
        annotations: legacy.layer.annotations ?? {},
        blob: legacy.payload,
      });
      const again = new Verifier(toTrustMaterial(full.trust.trustedRoot), strict).verify(
        toSignedEntity(ours.bundle, legacy.payload),
      );
      assert.equal(again.identity?.subjectAlternativeName, identity);

      // A root that names another key for the same CT log URL: the SCT must fail, whatever the threshold.
      const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
        type: 'spki',
        format: 'der',
      });
      const impostor = legacyTrustedRoot({
        ...full.trustInputs,
        ctlog: {
          url: full.ctlog.url,
          publicKeyDer: otherKey,
          logId: createHash('sha256').update(otherKey).digest(),
        },
      });
      for (const ctlogThreshold of [1, 0])
        assert.throws(
          () =>
            new Verifier(toTrustMaterial(impostor), { ...strict, ctlogThreshold }).verify(
              toSignedEntity(bundle, legacy.payload),
            ),
          (error: unknown) => error instanceof VerificationError && error.code === 'CERTIFICATE_ERROR',
        );
    },
  );
}
