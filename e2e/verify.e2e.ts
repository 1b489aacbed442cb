// `sigward verify` against what cosign v3 really writes in the world: keyless signatures made with an
// apiserver service-account token (Fulcio, Rekor v2, TSA) as bundle referrers (olareg's referrers API,
// and the fallback tag on docker-registry 2.8 and on distribution v3, `registry:3`), the legacy `.sig`
// format, key signatures, and multi-arch indexes. Each refusal (identity, issuer, unsigned, untrusted
// CA, no log) has its own reason code.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSecretFile } from './world/clients.ts';
import { pushImage, pushIndex, type PushedImage } from './world/images.ts';
import type { Registry } from './world/registry.ts';
import { startWorld, type World } from './world/world.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const prodRootPath = path.resolve(
  repoRoot,
  '../shared/ext/sigstore-python/sigstore/_store/tuf-repo-cdn.sigstore.dev/trusted_root.json',
);
const namespace = 'apps';
const signer = 'release';
const identityOf = (sa: string) => `https://kubernetes.io/namespaces/${namespace}/serviceaccounts/${sa}`;
const keyPassword = 'e2e-key-password';

/** The world's registries a cosign v3 bundle is verified on, and where sigward must find it there. */
const bundleRegistries = [
  { which: 'referrers', title: 'the referrers API registry', source: 'referrers-api' },
  { which: 'fallback', title: 'the fallback tag registry', source: 'fallback-tag' },
  { which: 'distributionV3', title: 'distribution v3 (registry:3, fallback tag)', source: 'fallback-tag' },
] as const;
/** The registries without a referrers API, where cosign also writes legacy `.sig` tags. */
const legacyRegistries = [
  { which: 'fallback', title: 'docker-registry 2.8' },
  { which: 'distributionV3', title: 'distribution v3' },
] as const;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface VerdictJson {
  status: string;
  code: string;
  message: string;
  digest: string;
  signatures: {
    verified: boolean;
    code?: string;
    location: { source: string };
    signer?: { kind: string; issuer?: string; subject?: string };
  }[];
  platforms?: { platform: string; status: string }[];
}

describe('sigward verify: images signed by cosign v3 in the world', () => {
  let world: World;
  let failed = false;
  let keyDir: string;

  before(async () => {
    world = await startWorld();
    await world.kube.ensureNamespace(namespace);
    await world.kube.createServiceAccount(namespace, signer);
    keyDir = world.runDir.sub('cosign-keys');
    await world.clients.cosign(['generate-key-pair'], {
      cwd: keyDir,
      env: { COSIGN_PASSWORD: keyPassword },
    });
  });
  after(async () => {
    const kept = await world?.stop(failed ? { keepLogsAs: 'verify' } : {});
    if (kept) console.error(`verify e2e: logs kept in ${kept}`);
  });

  const check = stepsNotingFailure(() => (failed = true));

  const tools = () => ({ crane: world.clients.crane, workDir: world.runDir.sub('images') });

  async function token(): Promise<string> {
    const value = await world.kube.createToken(namespace, signer, { audience: 'sigstore' });
    return writeSecretFile(
      world.runDir.sub('tokens'),
      `t-${Date.now()}-${Math.random().toString(16).slice(2)}`,
      value,
    );
  }

  /** cosign v3 keyless, the new bundle format (a referrer; the fallback tag where there is no API). */
  async function signKeyless(image: PushedImage, extra: readonly string[] = []): Promise<void> {
    await world.clients.cosign([
      'sign',
      '--yes',
      `--identity-token=${await token()}`,
      `--signing-config=${world.sigstore.signingConfigPath}`,
      `--trusted-root=${world.sigstore.trustedRootPath}`,
      ...extra,
      image.byDigest,
    ]);
  }

  /** cosign v3 keyless in the legacy format: the `.sig` tag, TSA time, no log (the tier has no Rekor v1). */
  async function signLegacy(image: PushedImage): Promise<void> {
    await world.clients.cosign([
      'sign',
      '--yes',
      '--new-bundle-format=false',
      '--use-signing-config=false',
      '--tlog-upload=false',
      `--fulcio-url=${world.sigstore.fulcioUrl}`,
      `--timestamp-server-url=${world.sigstore.tsaUrl}`,
      `--trusted-root=${world.sigstore.trustedRootPath}`,
      `--identity-token=${await token()}`,
      image.byDigest,
    ]);
  }

  async function signWithKey(image: PushedImage): Promise<void> {
    await world.clients.cosign(
      [
        'sign',
        '--yes',
        `--key=${path.join(keyDir, 'cosign.key')}`,
        `--signing-config=${world.sigstore.signingConfigPath}`,
        `--trusted-root=${world.sigstore.trustedRootPath}`,
        image.byDigest,
      ],
      { env: { COSIGN_PASSWORD: keyPassword } },
    );
  }

  function sigward(args: readonly string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [path.join(repoRoot, 'src/cli/main.ts'), 'verify', ...args],
        {
          cwd: repoRoot,
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: world.clients.home,
            DOCKER_CONFIG: world.clients.env.DOCKER_CONFIG ?? '',
            SIGWARD_TUF_CACHE: world.runDir.sub(`sigward-tuf-${Math.random().toString(16).slice(2)}`),
          },
        },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  const keyless = (identity = identityOf(signer), issuer = world.kube.issuer): string[] => [
    `--certificate-identity=${identity}`,
    `--certificate-oidc-issuer=${issuer}`,
    '--insecure-ignore-sct', // this tier runs no CT log: Fulcio's certificates carry no SCT
  ];
  const trust = (): string => `--trusted-root=${world.sigstore.trustedRootPath}`;

  async function verified(args: readonly string[]): Promise<VerdictJson> {
    const run = await sigward([...args, '--output=json']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const verdict = JSON.parse(run.stdout) as VerdictJson;
    assert.equal(verdict.status, 'verified');
    return verdict;
  }

  async function refused(args: readonly string[], code: string): Promise<Run> {
    const run = await sigward(args);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.ok(run.stderr.includes(`[${code}]`), `expected [${code}]:\n${run.stderr}`);
    return run;
  }

  for (const { which, title, source } of bundleRegistries) {
    check(`keyless bundle on ${title}`, async () => {
      const registry: Registry = world.registries[which];
      const image = await pushImage(tools(), registry.host, 'verify/keyless', `v-${which}`);
      await signKeyless(image);

      const verdict = await verified([trust(), ...keyless(), image.byDigest]);
      assert.equal(verdict.digest, image.digest);
      assert.equal(verdict.signatures.length, 1);
      const [signature] = verdict.signatures;
      assert.equal(signature?.location.source, source);
      assert.equal(signature?.signer?.subject, identityOf(signer));
      assert.equal(signature?.signer?.issuer, world.kube.issuer);

      // By tag, in words: who signed.
      const text = await sigward([trust(), ...keyless(), image.ref]);
      assert.equal(text.code, 0, text.stderr);
      assert.ok(
        text.stdout.includes(`issuer ${world.kube.issuer}, subject ${identityOf(signer)}`),
        text.stdout,
      );

      const subject = await refused(
        [trust(), ...keyless(identityOf('intruder')), image.byDigest],
        'IDENTITY_SUBJECT_MISMATCH',
      );
      assert.ok(
        subject.stderr.includes(
          `subject: expected "${identityOf('intruder')}", found "${identityOf(signer)}"`,
        ),
        subject.stderr,
      );
      const issuer = await refused(
        [trust(), ...keyless(identityOf(signer), 'https://issuer.example.com'), image.byDigest],
        'IDENTITY_ISSUER_MISMATCH',
      );
      assert.ok(
        issuer.stderr.includes(`issuer: expected "https://issuer.example.com", found "${world.kube.issuer}"`),
        issuer.stderr,
      );
      // Without --insecure-ignore-sct the certificate's missing SCT is a certificate failure.
      await refused(
        [
          trust(),
          `--certificate-identity=${identityOf(signer)}`,
          `--certificate-oidc-issuer=${world.kube.issuer}`,
          image.byDigest,
        ],
        'SIGSTORE_CERTIFICATE_UNTRUSTED',
      );
    });
  }

  check(
    'signed by `sigward sign` (the shared layout): verified by `sigward verify` on every registry',
    async () => {
      for (const { which, source } of bundleRegistries) {
        const image = await pushImage(
          tools(),
          world.registries[which].host,
          'verify/by-sigward',
          `v-${which}`,
        );
        const tokenFile = await token();
        const signed = await new Promise<Run>((resolve) => {
          execFile(
            process.execPath,
            [
              path.join(repoRoot, 'src/cli/main.ts'),
              'sign',
              `--identity-token=${tokenFile}`,
              `--signing-config=${world.sigstore.signingConfigPath}`,
              `--trusted-root=${world.sigstore.trustedRootPath}`,
              image.byDigest,
            ],
            { cwd: repoRoot, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: world.clients.home } },
            (error, stdout, stderr) =>
              resolve({
                code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1,
                stdout,
                stderr,
              }),
          );
        });
        assert.equal(signed.code, 0, `${signed.stdout}\n${signed.stderr}`);
        const verdict = await verified([trust(), ...keyless(), image.byDigest]);
        assert.equal(verdict.signatures[0]?.location.source, source);
        await refused(
          [trust(), ...keyless(identityOf('intruder')), image.byDigest],
          'IDENTITY_SUBJECT_MISMATCH',
        );
      }
    },
  );

  check("the trust root through the world's TUF repository (--tuf-mirror, --tuf-root)", async () => {
    const image = await pushImage(tools(), world.registries.referrers.host, 'verify/tuf', 'v1');
    await signKeyless(image);
    await verified([
      `--tuf-mirror=${world.sigstore.tuf.mirrorUrl}`,
      `--tuf-root=${world.sigstore.tuf.rootPath}`,
      ...keyless(),
      image.byDigest,
    ]);
  });

  for (const { which, title } of legacyRegistries) {
    check(
      `legacy .sig format (cosign v3 --new-bundle-format=false) on ${title}: verified with --insecure-ignore-tlog`,
      async () => {
        const image = await pushImage(tools(), world.registries[which].host, 'verify/legacy', 'v1');
        await signLegacy(image);
        const verdict = await verified([trust(), ...keyless(), '--insecure-ignore-tlog', image.byDigest]);
        assert.equal(verdict.signatures[0]?.location.source, 'legacy-tag');
        // It has no log entry: without the flag it is refused for that reason.
        await refused([trust(), ...keyless(), image.byDigest], 'SIGSTORE_TLOG_INVALID');
        const subject = await refused(
          [trust(), ...keyless(identityOf('intruder')), '--insecure-ignore-tlog', image.byDigest],
          'IDENTITY_SUBJECT_MISMATCH',
        );
        assert.ok(
          subject.stderr.includes(
            `subject: expected "${identityOf('intruder')}", found "${identityOf(signer)}"`,
          ),
          subject.stderr,
        );
      },
    );
  }

  check('key signature (cosign generate-key-pair + sign --key): verified with --key', async () => {
    const image = await pushImage(tools(), world.registries.referrers.host, 'verify/keyed', 'v1');
    await signWithKey(image);
    const verdict = await verified([trust(), `--key=${path.join(keyDir, 'cosign.pub')}`, image.byDigest]);
    assert.equal(verdict.signatures[0]?.signer?.kind, 'key');
    // Another key: the signature does not verify.
    const otherDir = world.runDir.sub('cosign-keys-other');
    await world.clients.cosign(['generate-key-pair'], {
      cwd: otherDir,
      env: { COSIGN_PASSWORD: keyPassword },
    });
    await refused(
      [trust(), `--key=${path.join(otherDir, 'cosign.pub')}`, image.byDigest],
      'SIGSTORE_SIGNATURE_INVALID',
    );
    // A keyless identity does not accept a key signature.
    await refused([trust(), ...keyless(), image.byDigest], 'SIGSTORE_KEY_UNTRUSTED');
  });

  check('multi-arch: an index signed with --recursive, and one signed without', async () => {
    const registry = world.registries.referrers;
    const recursive = await pushIndex(tools(), registry.host, 'verify/multi', 'v1');
    await signKeyless(recursive, ['--recursive']);
    await verified([trust(), ...keyless(), recursive.byDigest]);
    const every = await verified([
      trust(),
      ...keyless(),
      '--require-platform-signatures',
      recursive.byDigest,
    ]);
    assert.deepEqual(
      every.platforms?.map((p) => p.status),
      ['verified', 'verified'],
    );
    const arm = recursive.platforms?.find((p) => p.platform === 'linux/arm64');
    assert.ok(arm);
    await verified([trust(), ...keyless(), `${registry.host}/verify/multi@${arm.digest}`]);
    await verified([trust(), ...keyless(), '--accept-platform-signatures', recursive.byDigest]);

    const indexOnly = await pushIndex(tools(), registry.host, 'verify/multi', 'v2');
    await signKeyless(indexOnly);
    await verified([trust(), ...keyless(), indexOnly.byDigest]);
    await refused(
      [trust(), ...keyless(), '--require-platform-signatures', indexOnly.byDigest],
      'PLATFORM_NOT_SIGNED',
    );
    await refused([trust(), ...keyless(), '--platform=linux/arm64', indexOnly.ref], 'NO_SIGNATURES');
    await verified([trust(), ...keyless(), '--accept-platform-signatures', indexOnly.byDigest]);
    // Platforms signed, index not: --accept-platform-signatures takes them, the default does not.
    const platformsOnly = await pushIndex(tools(), registry.host, 'verify/multi', 'v3');
    for (const p of platformsOnly.platforms ?? []) {
      await signKeyless({
        ...platformsOnly,
        digest: p.digest,
        byDigest: `${registry.host}/verify/multi@${p.digest}`,
      });
    }
    await refused([trust(), ...keyless(), platformsOnly.byDigest], 'NO_SIGNATURES');
    await verified([trust(), ...keyless(), '--accept-platform-signatures', platformsOnly.byDigest]);
    await verified([
      trust(),
      ...keyless(),
      '--platform=linux/arm64',
      '--accept-index-signature',
      indexOnly.ref,
    ]);
  });

  check('signatures in another repository (cosign COSIGN_REPOSITORY): --signature-repository', async () => {
    const registry = world.registries.fallback;
    const image = await pushImage(tools(), registry.host, 'verify/stored-elsewhere', 'v1');
    const signatures = `${registry.host}/verify/signatures`;
    await world.clients.cosign(
      [
        'sign',
        '--yes',
        '--new-bundle-format=false',
        '--use-signing-config=false',
        '--tlog-upload=false',
        `--fulcio-url=${world.sigstore.fulcioUrl}`,
        `--timestamp-server-url=${world.sigstore.tsaUrl}`,
        `--trusted-root=${world.sigstore.trustedRootPath}`,
        `--identity-token=${await token()}`,
        image.byDigest,
      ],
      { env: { COSIGN_REPOSITORY: signatures } },
    );
    const args = [trust(), ...keyless(), '--insecure-ignore-tlog'];
    await refused([...args, image.byDigest], 'NO_SIGNATURES');
    const verdict = await verified([...args, `--signature-repository=${signatures}`, image.byDigest]);
    assert.equal(verdict.signatures[0]?.location.source, 'legacy-tag');
  });

  check('unsigned: NO_SIGNATURES on every registry', async () => {
    for (const registry of Object.values(world.registries)) {
      const image = await pushImage(tools(), registry.host, 'verify/unsigned', 'v1');
      const run = await refused([trust(), ...keyless(), image.byDigest], 'NO_SIGNATURES');
      assert.ok(run.stderr.includes('no signatures found'), run.stderr);
    }
  });

  check("untrusted CA: a trusted root without the world's Fulcio", async () => {
    const image = await pushImage(tools(), world.registries.referrers.host, 'verify/untrusted', 'v1');
    await signKeyless(image);
    const ours = JSON.parse(readFileSync(world.sigstore.trustedRootPath, 'utf8')) as Record<string, unknown>;
    const prod = JSON.parse(readFileSync(prodRootPath, 'utf8')) as Record<string, unknown>;
    const file = path.join(world.runDir.sub('trust-variants'), 'no-world-fulcio.json');
    writeFileSync(file, JSON.stringify({ ...ours, certificateAuthorities: prod['certificateAuthorities'] }));
    await refused([`--trusted-root=${file}`, ...keyless(), image.byDigest], 'SIGSTORE_CERTIFICATE_UNTRUSTED');
    await verified([trust(), ...keyless(), image.byDigest]);
  });

  check('a registry that is not there: a registry failure, not "unsigned"', async () => {
    const run = await refused(
      [trust(), ...keyless(), `127.0.0.1:9/verify/gone@sha256:${'a'.repeat(64)}`],
      'REGISTRY_UNAVAILABLE',
    );
    assert.ok(run.stderr.includes('whether it is signed is unknown'), run.stderr);
  });
});
