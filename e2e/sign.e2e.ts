// `sigward sign` as a Kubernetes Job runs it, against the real world: the apiserver issues a
// service-account token with audience sigstore (what the kubelet projects into the Job's pod), sigward
// reads it from the token file, gets a Fulcio certificate, logs to Rekor v2 (a hashedrekord of the DSSE
// signature, as cosign v3 does), gets a TSA timestamp and attaches the signature; cosign v3 then
// verifies the identity. Both registries (referrers API, fallback tag), the legacy `.sig` format, an
// attestation, registry credentials from a docker config, and the failures that must leave nothing a
// verifier could take for a signature: an expired token, a token for another audience, an unreachable
// Fulcio, a registry that refuses the push.
import { after, before, describe, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { runTool, withEnv, writeSecretFile, type ToolResult } from './world/clients.ts';
import { pushImage, pushIndex, type PushedImage } from './world/images.ts';
import { fallbackTag, getBlob, getManifest, referrers, tags, type Endpoint } from './world/oci-http.ts';
import { startOlareg, type Registry } from './world/registry.ts';
import { startWorld, type World } from './world/world.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const namespace = 'release-jobs';
const serviceAccount = 'signer';
const identity = `https://kubernetes.io/namespaces/${namespace}/serviceaccounts/${serviceAccount}`;
const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const progressLines = [
  `Signing as system:serviceaccount:${namespace}:${serviceAccount} (issuer https://127.0.0.1:`,
  'Generating ephemeral keys...',
  'Retrieving signed certificate...',
  // What a policy names: the certified identity, not the token's `sub` printed above.
  `Certificate for subject "${identity}" from issuer "https://127.0.0.1:`,
  'Verified the pushed signature with the trusted root',
];

/** A loopback port nothing listens on (it was free a moment ago). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

describe('sigward sign: a Job-equivalent run, verified by cosign v3', () => {
  let world: World;
  let secured: Registry | undefined;
  let failed = false;
  const check = stepsNotingFailure(() => (failed = true));

  before(async () => {
    world = await startWorld();
    await world.kube.ensureNamespace(namespace);
    await world.kube.createServiceAccount(namespace, serviceAccount);
    secured = await startOlareg(world.runDir, {
      referrers: true,
      name: 'olareg-auth',
      auth: { kind: 'htpasswd', users: { alice: 'sign-e2e-pw' }, anonymousRead: true },
    });
  });
  after(async () => {
    await secured?.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'sign' } : {});
    if (kept) console.error(`sign e2e: logs kept in ${kept}`);
  });

  const images = () => ({ crane: world.clients.crane, workDir: world.runDir.sub('images') });

  /** The projected token file of a Job's pod: a real TokenRequest, audience sigstore unless told. */
  async function tokenFile(audience = 'sigstore'): Promise<string> {
    const token = await world.kube.createToken(namespace, serviceAccount, { audience });
    const dir = world.runDir.sub(`tokens/${Date.now()}-${Math.random().toString(16).slice(2)}`);
    mkdirSync(dir, { recursive: true });
    return writeSecretFile(dir, 'oidc-token', token);
  }

  function sigward(args: readonly string[], env: Record<string, string> = {}): Promise<ToolResult> {
    return runTool(process.execPath, ['src/cli/main.ts', ...args], world.clients.env, {
      cwd: repoRoot,
      check: false,
      env,
      timeoutMs: 120_000,
    });
  }

  const services = () => [
    `--signing-config=${world.sigstore.signingConfigPath}`,
    `--trusted-root=${world.sigstore.trustedRootPath}`,
  ];

  async function signAsJob(image: string, extra: readonly string[] = []): Promise<ToolResult> {
    return sigward([
      'sign',
      '--oidc-provider=kubernetes',
      `--kubernetes-token-path=${await tokenFile()}`,
      ...services(),
      ...extra,
      image,
    ]);
  }

  function cosignVerify(image: PushedImage, extra: readonly string[] = [], command = 'verify') {
    return world.clients.cosign(
      [
        command,
        `--trusted-root=${world.sigstore.trustedRootPath}`,
        `--certificate-identity=${identity}`,
        `--certificate-oidc-issuer=${world.kube.issuer}`,
        // This tier runs no CT log: Fulcio's certificates carry no SCT.
        '--insecure-ignore-sct',
        ...extra,
        image.byDigest,
      ],
      { check: false },
    );
  }

  /** sigward's own verifier (the webhook's engine behind `sigward verify`) on what sigward signed. */
  async function sigwardVerify(image: PushedImage, extra: readonly string[] = []): Promise<void> {
    const result = await sigward([
      'verify',
      `--trusted-root=${world.sigstore.trustedRootPath}`,
      `--certificate-identity=${identity}`,
      `--certificate-oidc-issuer=${world.kube.issuer}`,
      '--insecure-ignore-sct',
      ...extra,
      image.byDigest,
    ]);
    assert.equal(result.code, 0, `sigward verify: ${result.stdout}${result.stderr}`);
  }

  function assertProgress(result: ToolResult): number {
    assert.equal(result.code, 0, result.stderr);
    for (const line of progressLines)
      assert.ok(result.stderr.includes(line), `"${line}" in\n${result.stderr}`);
    const index = /tlog entry created with index: (\d+)/.exec(result.stderr);
    assert.ok(index, `a log index in\n${result.stderr}`);
    assert.doesNotMatch(result.stderr + result.stdout, /eyJ[A-Za-z0-9_-]{4,}\./, 'no token in the output');
    return Number(index[1]);
  }

  /** Nothing a verifier could take for a signature: no tag but the image's, no referrer. */
  async function assertNothingAttached(endpoint: Endpoint, image: PushedImage, api: boolean): Promise<void> {
    assert.deepEqual(await tags(endpoint, image.repository), [image.tag]);
    if (api) {
      const listed = await referrers(endpoint, image.repository, image.digest);
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.index?.manifests ?? [], []);
    }
  }

  check('referrers API (olareg): the Job signs, cosign verifies the service account', async () => {
    const r = world.registries.referrers;
    const image = await pushImage(images(), r.host, 'apps/api', 'v1');
    const result = await signAsJob(image.ref);
    const index = assertProgress(result);
    assert.ok(result.stderr.includes(`Resolved ${image.ref}:`) || result.stderr.includes('Resolved '));
    assert.match(result.stdout, new RegExp(`Signed ${image.host}/apps/api@${image.digest}`));

    const listed = await referrers(r.url, image.repository, image.digest);
    assert.equal(listed.index?.manifests?.length, 1);
    const entry = listed.index?.manifests?.[0];
    assert.equal(entry?.artifactType, bundleType);
    assert.equal(entry?.annotations?.['dev.sigstore.bundle.content'], 'dsse-envelope');
    assert.equal(
      entry?.annotations?.['dev.sigstore.bundle.predicateType'],
      'https://sigstore.dev/cosign/sign/v1',
    );
    assert.deepEqual(await tags(r.url, image.repository), ['v1'], 'no tag at all with the referrers API');
    const manifest = await getManifest(r.url, image.repository, entry?.digest ?? '');
    assert.deepEqual(manifest?.json.config, {
      mediaType: 'application/vnd.oci.empty.v1+json',
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      size: 2,
      artifactType: bundleType,
    });
    const layer = manifest?.json.layers?.[0];
    assert.ok(layer);
    const bundle = JSON.parse((await getBlob(r.url, image.repository, layer.digest)).toString('utf8')) as {
      mediaType: string;
      verificationMaterial: { tlogEntries: { logIndex: string; kindVersion: unknown }[] };
    };
    assert.equal(bundle.mediaType, bundleType);
    // What cosign v3 logs for a DSSE signature on Rekor v2: a hashedrekord 0.0.2 of the signed PAE.
    assert.deepEqual(bundle.verificationMaterial.tlogEntries[0]?.kindVersion, {
      kind: 'hashedrekord',
      version: '0.0.2',
    });
    // proto-JSON leaves out an int64 of 0 (the first entry of a fresh log).
    assert.equal(bundle.verificationMaterial.tlogEntries[0]?.logIndex ?? '0', String(index));

    const verified = await cosignVerify(image);
    assert.equal(verified.code, 0, verified.stderr);
    await sigwardVerify(image);
    const other = await world.clients.cosign(
      [
        'verify',
        `--trusted-root=${world.sigstore.trustedRootPath}`,
        `--certificate-identity=https://kubernetes.io/namespaces/${namespace}/serviceaccounts/intruder`,
        `--certificate-oidc-issuer=${world.kube.issuer}`,
        '--insecure-ignore-sct',
        image.byDigest,
      ],
      { check: false },
    );
    assert.notEqual(other.code, 0, 'another identity is refused');
  });

  check(
    'no referrers API (docker-registry): the referrer and the fallback tag index; twice is two signatures',
    async () => {
      const r = world.registries.fallback;
      const image = await pushImage(images(), r.host, 'apps/api', 'v1');
      assertProgress(await signAsJob(image.byDigest));
      const tag = fallbackTag(image.digest);
      assert.deepEqual(await tags(r.url, image.repository), [tag, 'v1'].sort());
      const index = await getManifest(r.url, image.repository, tag);
      assert.equal(index?.json.manifests?.length, 1);
      assert.equal(index?.json.manifests?.[0]?.artifactType, bundleType);
      const verified = await cosignVerify(image);
      assert.equal(verified.code, 0, verified.stderr);
      await sigwardVerify(image);

      assertProgress(await signAsJob(image.byDigest));
      const again = await getManifest(r.url, image.repository, tag);
      assert.equal(again?.json.manifests?.length, 2, 'a second signature is appended to the same index');
      assert.deepEqual(await tags(r.url, image.repository), [tag, 'v1'].sort());
    },
  );

  check('--format legacy: the sha256-<hex>.sig tag, read by cosign v3 through its fallback', async () => {
    const r = world.registries.fallback;
    const image = await pushImage(images(), r.host, 'apps/legacy', 'v1');
    const result = await signAsJob(image.ref, ['--format=legacy']);
    assertProgress(result);
    assert.ok(result.stderr.includes('holds only the TSA timestamp'), result.stderr);
    const sigTag = `${fallbackTag(image.digest)}.sig`;
    assert.deepEqual(await tags(r.url, image.repository), [sigTag, 'v1'].sort());
    const manifest = await getManifest(r.url, image.repository, sigTag);
    assert.equal(manifest?.json.layers?.length, 1);
    const annotations = manifest?.json.layers?.[0]?.annotations ?? {};
    assert.deepEqual(Object.keys(annotations).sort(), [
      'dev.cosignproject.cosign/signature',
      'dev.sigstore.cosign/certificate',
      'dev.sigstore.cosign/chain',
      'dev.sigstore.cosign/rfc3161timestamp',
    ]);
    assert.match(annotations['dev.sigstore.cosign/chain'] ?? '', /BEGIN CERTIFICATE[\s\S]+BEGIN CERTIFICATE/);
    // Rekor v2 gives no SET, so this layout holds the TSA time only: cosign needs --insecure-ignore-tlog.
    const verified = await cosignVerify(image, ['--insecure-ignore-tlog']);
    assert.equal(verified.code, 0, verified.stderr);
    await sigwardVerify(image, ['--insecure-ignore-tlog']);
  });

  check('--recursive on an index: a signature for the index and for each platform manifest', async () => {
    const r = world.registries.referrers;
    const index = await pushIndex(images(), r.host, 'apps/multi', 'v1');
    const result = await signAsJob(index.ref, ['--recursive']);
    assertProgress(result);
    assert.equal(result.stderr.split('Retrieving signed certificate...').length - 1, 1, 'one certificate');
    const platforms = index.platforms ?? [];
    assert.equal(platforms.length, 2);
    for (const digest of [index.digest, ...platforms.map((p) => p.digest)]) {
      const listed = await referrers(r.url, index.repository, digest);
      assert.equal(listed.index?.manifests?.length, 1, `one signature for ${digest}`);
      const verified = await cosignVerify({
        ...index,
        digest,
        byDigest: `${index.host}/${index.repository}@${digest}`,
      });
      assert.equal(verified.code, 0, verified.stderr);
    }
    await sigwardVerify(index, ['--require-platform-signatures']);
  });

  check("services and trusted root from the world's TUF repository (--tuf-mirror, --tuf-root)", async () => {
    const r = world.registries.referrers;
    const image = await pushImage(images(), r.host, 'apps/tuf', 'v1');
    const result = await sigward(
      [
        'sign',
        '--oidc-provider=kubernetes',
        `--kubernetes-token-path=${await tokenFile()}`,
        `--tuf-mirror=${world.sigstore.tuf.mirrorUrl}`,
        `--tuf-root=${world.sigstore.tuf.rootPath}`,
        image.ref,
      ],
      { SIGWARD_TUF_CACHE: world.runDir.sub('sigward-tuf-cache') },
    );
    assertProgress(result);
    const verified = await cosignVerify(image);
    assert.equal(verified.code, 0, verified.stderr);
  });

  check(
    'sigward attest: an in-toto predicate as a bundle referrer, read by cosign verify-attestation',
    async () => {
      const r = world.registries.referrers;
      const image = await pushImage(images(), r.host, 'apps/attested', 'v1');
      const predicate = path.join(world.runDir.sub('predicates'), 'provenance.json');
      writeFileSync(
        predicate,
        JSON.stringify({ buildType: 'https://sigward.dev/e2e', builder: { id: 'job' } }),
      );
      const result = await sigward([
        'attest',
        '--oidc-provider=kubernetes',
        `--kubernetes-token-path=${await tokenFile()}`,
        ...services(),
        `--predicate=${predicate}`,
        '--type=slsaprovenance1',
        image.ref,
      ]);
      assertProgress(result);
      const listed = await referrers(r.url, image.repository, image.digest);
      assert.equal(
        listed.index?.manifests?.[0]?.annotations?.['dev.sigstore.bundle.predicateType'],
        'https://slsa.dev/provenance/v1',
      );
      const verified = await cosignVerify(image, ['--type=slsaprovenance1'], 'verify-attestation');
      assert.equal(verified.code, 0, verified.stderr);
    },
  );

  check('registry credentials from a docker config; a refused push leaves nothing behind', async () => {
    assert.ok(secured, 'the registry with auth started');
    const endpoint: Endpoint = { url: secured.url };
    const configDir = world.runDir.sub('docker-auth');
    const configFile = writeSecretFile(
      configDir,
      'config.json',
      JSON.stringify({
        auths: { [secured.host]: { auth: Buffer.from('alice:sign-e2e-pw').toString('base64') } },
      }),
    );
    const crane = withEnv(world.clients.crane, { DOCKER_CONFIG: configDir });
    const image = await pushImage(
      { crane, workDir: world.runDir.sub('images') },
      secured.host,
      'apps/private',
      'v1',
    );

    // Anonymous clients may pull but not push: sigward finds out before it signs.
    const refused = await signAsJob(image.ref);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /FAILED \[REGISTRY_(UNAUTHORIZED|DENIED)\]/);
    // Refused before a certificate is issued or anything is written to the log.
    assert.doesNotMatch(refused.stderr, /Retrieving signed certificate|tlog entry created/);
    await assertNothingAttached(endpoint, image, true);

    const signed = await signAsJob(image.ref, [`--registry-config=${configFile}`]);
    assertProgress(signed);
    const listed = await referrers(endpoint, image.repository, image.digest);
    assert.equal(listed.index?.manifests?.length, 1);

    // The same with --registry-username and the password from the environment.
    const byFlags = await sigward(
      [
        'sign',
        '--oidc-provider=kubernetes',
        `--kubernetes-token-path=${await tokenFile()}`,
        ...services(),
        '--registry-username=alice',
        image.ref,
      ],
      { SIGWARD_REGISTRY_PASSWORD: 'sign-e2e-pw' },
    );
    assertProgress(byFlags);
    const again = await referrers(endpoint, image.repository, image.digest);
    assert.equal(again.index?.manifests?.length, 2);
  });

  check(
    'the Job example (charts/sigward/examples/sign-job.yaml): valid for the apiserver, and its args sign',
    async () => {
      const file = path.join(repoRoot, 'charts/sigward/examples/sign-job.yaml');
      const text = readFileSync(file, 'utf8');
      await world.kube.ensureNamespace('release');
      const dryRun = await world.kube.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: text });
      assert.equal(dryRun.code, 0, dryRun.stderr);

      interface Container {
        args: string[];
        volumeMounts: { name: string; mountPath: string }[];
      }
      interface JobDoc {
        kind: string;
        spec: {
          template: {
            spec: {
              containers: Container[];
              volumes: {
                name: string;
                projected?: { sources: { serviceAccountToken?: Record<string, unknown> }[] };
              }[];
            };
          };
        };
      }
      const job = parseAllDocuments(text)
        .map((d) => d.toJS() as JobDoc)
        .find((d) => d.kind === 'Job');
      assert.ok(job);
      const pod = job.spec.template.spec;
      const container = pod.containers[0];
      assert.ok(container);
      const tokenVolume = pod.volumes.find((v) => v.projected !== undefined);
      assert.deepEqual(tokenVolume?.projected?.sources[0]?.serviceAccountToken, {
        path: 'oidc-token',
        audience: 'sigstore',
        expirationSeconds: 600,
      });
      const mount = container.volumeMounts.find((m) => m.name === tokenVolume?.name);
      assert.equal(
        `${mount?.mountPath}/oidc-token`,
        '/var/run/sigstore/cosign/oidc-token',
        'the default token path',
      );

      // The container's own arguments, with this world's files in place of the mounted ones.
      const r = world.registries.referrers;
      const image = await pushImage(images(), r.host, 'release/web', 'v1');
      const args = container.args.map((arg) =>
        arg
          .replace('/etc/sigward/trust/signing_config.json', world.sigstore.signingConfigPath)
          .replace('/etc/sigward/trust/trusted_root.json', world.sigstore.trustedRootPath)
          .replace(/^registry\.example\.com\/.*$/, image.byDigest),
      );
      const result = await sigward([
        ...args.slice(0, -1),
        `--kubernetes-token-path=${await tokenFile()}`,
        image.byDigest,
      ]);
      assertProgress(result);
      const verified = await cosignVerify(image);
      assert.equal(verified.code, 0, verified.stderr);
    },
  );

  // Full tier only (npm run e2e:full): Fulcio with a CT log (its certificates carry an SCT) and Rekor v1
  // (entries with a SET), so nothing needs cosign's --insecure-ignore-* flags.
  const full = (t: TestContext) => {
    if (world.full === undefined) t.skip('full tier only (SIGWARD_E2E_TIER=full)');
    return world.full;
  };

  for (const format of ['bundle', 'legacy'] as const) {
    check(
      `full tier, ${format}: the SCT is verified, Rekor v1 logs it, cosign verifies with no insecure flag`,
      async (t) => {
        const tier = full(t);
        if (tier === undefined) return;
        const r = world.registries.fallback;
        const image = await pushImage(images(), r.host, `full/${format}`, 'v1');
        const result = await sigward([
          'sign',
          '--oidc-provider=kubernetes',
          `--kubernetes-token-path=${await tokenFile()}`,
          `--signing-config=${tier.trust.signingConfigPath}`,
          `--trusted-root=${tier.trust.trustedRootPath}`,
          `--format=${format}`,
          image.ref,
        ]);
        assertProgress(result);
        assert.ok(result.stderr.includes('Successfully verified SCT...'), result.stderr);
        if (format === 'legacy') {
          const manifest = await getManifest(r.url, image.repository, `${fallbackTag(image.digest)}.sig`);
          const annotations = manifest?.json.layers?.[0]?.annotations ?? {};
          const rekor = JSON.parse(annotations['dev.sigstore.cosign/bundle'] ?? '{}') as {
            SignedEntryTimestamp?: string;
            Payload?: { logIndex?: number; integratedTime?: number };
          };
          assert.ok(rekor.SignedEntryTimestamp, 'the Rekor v1 SET is in the layer');
          assert.ok((rekor.Payload?.integratedTime ?? 0) > 0);
        }
        const verified = await world.clients.cosign(
          [
            'verify',
            `--trusted-root=${tier.trust.trustedRootPath}`,
            `--certificate-identity=${identity}`,
            `--certificate-oidc-issuer=${world.kube.issuer}`,
            image.byDigest,
          ],
          { check: false },
        );
        assert.equal(verified.code, 0, verified.stderr);
        const ours = await sigward([
          'verify',
          `--trusted-root=${tier.trust.trustedRootPath}`,
          `--certificate-identity=${identity}`,
          `--certificate-oidc-issuer=${world.kube.issuer}`,
          image.byDigest,
        ]);
        assert.equal(ours.code, 0, `sigward verify: ${ours.stdout}${ours.stderr}`);
      },
    );
  }

  check('full tier: an SCT from a CT log the trusted root does not list stops the signing', async (t) => {
    const tier = full(t);
    if (tier === undefined) return;
    const root = JSON.parse(readFileSync(tier.trust.trustedRootPath, 'utf8')) as Record<string, unknown>;
    const withoutCt = path.join(world.runDir.sub('trust-variants'), 'no-ctlog.json');
    writeFileSync(withoutCt, JSON.stringify({ ...root, ctlogs: [] }));
    const r = world.registries.fallback;
    const image = await pushImage(images(), r.host, 'full/unknown-ct', 'v1');
    const result = await sigward([
      'sign',
      '--oidc-provider=kubernetes',
      `--kubernetes-token-path=${await tokenFile()}`,
      `--signing-config=${tier.trust.signingConfigPath}`,
      `--trusted-root=${withoutCt}`,
      image.ref,
    ]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /FAILED \[SIGNER_SCT\]: the certificate's SCT is from CT log [0-9a-f]+, which the trusted root does not list/,
    );
    assert.doesNotMatch(result.stderr, /tlog entry created/, 'nothing was logged');
    await assertNothingAttached(r.url, image, false);
  });

  check('failures before the push: a clear error, no token in it, nothing in the registry', async () => {
    const r = world.registries.fallback;
    const image = await pushImage(images(), r.host, 'apps/refused', 'v1');
    const realToken = await world.kube.createToken(namespace, serviceAccount, { audience: 'sigstore' });

    // Expired: the apiserver will not issue one shorter than 10 minutes, so take a real token's claims
    // with exp in the past (its signature no longer matches, which never matters: it is refused first).
    const [header, payload] = realToken.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    const expired = [
      header,
      Buffer.from(JSON.stringify({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 })).toString(
        'base64url',
      ),
      'c2ln',
    ].join('.');
    const cases: {
      name: string;
      args: string[];
      env?: Record<string, string>;
      code: RegExp;
      text: RegExp;
    }[] = [
      {
        name: 'expired token',
        args: ['--oidc-provider=env'],
        env: { SIGSTORE_ID_TOKEN: expired },
        code: /SIGNER_TOKEN_EXPIRED/,
        text: /expired at/,
      },
      {
        name: 'token for another audience',
        args: ['--oidc-provider=kubernetes', `--kubernetes-token-path=${await tokenFile('not-sigstore')}`],
        code: /SIGNER_TOKEN_AUDIENCE/,
        text: /is for audience "not-sigstore", but Fulcio expects "sigstore"/,
      },
      {
        name: 'Fulcio refuses a token for another audience (no pre-check: --audience says so)',
        args: [
          '--oidc-provider=kubernetes',
          `--kubernetes-token-path=${await tokenFile('not-sigstore')}`,
          '--audience=not-sigstore',
        ],
        code: /SIGNER_FULCIO/,
        text: /Fulcio \(http:\/\/127\.0\.0\.1:\d+\) refused: HTTP 40\d/,
      },
      {
        name: 'unreachable Fulcio',
        args: ['--identity-token', realToken, `--fulcio-url=http://127.0.0.1:${await closedPort()}`],
        code: /SIGNER_FULCIO/,
        text: /cannot be reached: ECONNREFUSED/,
      },
      {
        name: 'unreachable Rekor v2 (after Fulcio issued the certificate)',
        args: [
          '--identity-token',
          realToken,
          `--rekor-url=http://127.0.0.1:${await closedPort()}`,
          '--rekor-api-version=2',
        ],
        code: /SIGNER_REKOR/,
        text: /Rekor v2 \(http:\/\/127\.0\.0\.1:\d+\) cannot be reached: ECONNREFUSED/,
      },
      {
        name: 'unreachable timestamp authority',
        args: [
          '--identity-token',
          realToken,
          `--timestamp-server-url=http://127.0.0.1:${await closedPort()}/api/v1/timestamp`,
        ],
        code: /SIGNER_TSA/,
        text: /the timestamp authority \(http:\/\/127\.0\.0\.1:\d+\/api\/v1\/timestamp\) failed/,
      },
    ];
    for (const c of cases) {
      const result = await sigward(['sign', ...services(), ...c.args, image.ref], c.env ?? {});
      assert.equal(result.code, 1, `${c.name}: ${result.stderr}`);
      assert.match(result.stderr, c.code, c.name);
      assert.match(result.stderr, c.text, c.name);
      assert.ok(
        !result.stderr.includes(realToken) && !result.stderr.includes(expired),
        `${c.name}: no token`,
      );
      assert.doesNotMatch(result.stderr, /eyJ[A-Za-z0-9_-]{4,}\./, `${c.name}: nothing JWT-shaped`);
      await assertNothingAttached(r.url, image, false);
    }
  });
});
