// sigward's own container image, built without Docker (scripts/build-image.sh: OCI tar layers pushed with
// crane) into the world's referrers registry; its app layer is the compiled JavaScript (`npm run build`),
// no TypeScript; the pushed image is exported and its entrypoint run under unshare --root (a chroot) as
// uid 65532; `sigward sign` signs it with a service-account token, as a release Job would; `sigward
// verify` admits it under the signer's identity and refuses another; the image's own sigward verifies
// itself from inside the chroot, and its webhook, started there, admits it and refuses an unsigned one.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { podReview } from '../test/engine/harness.ts';
import { runTool, writeSecretFile, type ToolResult } from './world/clients.ts';
import { createCa, issueServingCert } from './world/pki.ts';
import { freePort } from './world/ports.ts';
import { startService } from './world/process.ts';
import { goTool } from './world/tools.ts';
import { startWorld, type World } from './world/world.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const namespace = 'sigward-release';
const serviceAccount = 'image-signer';
const identity = `https://kubernetes.io/namespaces/${namespace}/serviceaccounts/${serviceAccount}`;

interface ImageConfig {
  architecture: string;
  os: string;
  config: {
    Entrypoint?: string[];
    Cmd?: string[];
    User?: string;
    WorkingDir?: string;
    Env?: string[];
    ExposedPorts?: Record<string, unknown>;
  };
}

/** This process's environment, as the tools get it (a user's shell runs the build script). */
function hostEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

describe("sigward's image: built offline, run under chroot, signed by sigward, verified by sigward", () => {
  let world: World;
  let failed = false;
  let image = '';
  let config: ImageConfig | undefined;
  let rootfs = '';
  const check = stepsNotingFailure(() => (failed = true));

  before(async () => {
    world = await startWorld();
    await world.kube.ensureNamespace(namespace);
    await world.kube.createServiceAccount(namespace, serviceAccount);
  });
  after(async () => {
    const kept = await world?.stop(failed ? { keepLogsAs: 'image' } : {});
    if (kept) console.error(`image e2e: logs kept in ${kept}`);
  });

  function sigward(args: readonly string[]): Promise<ToolResult> {
    return runTool(process.execPath, ['src/cli/main.ts', ...args], world.clients.env, {
      cwd: repoRoot,
      check: false,
      timeoutMs: 120_000,
    });
  }

  /** The unshare command line running the image's entrypoint in its rootfs, as its user, in its workdir. */
  function entrypointInImage(args: readonly string[]): string[] {
    const c = config?.config;
    assert.ok(c?.Entrypoint && c.User && c.WorkingDir, 'the image config was read');
    const [uid, gid] = c.User.split(':');
    const [program, ...rest] = c.Entrypoint;
    return [
      `--root=${rootfs}`,
      `--wd=${c.WorkingDir}`,
      `--setgid=${gid ?? uid}`,
      `--setuid=${uid}`,
      '--',
      // The image's PATH finds node at /usr/local/bin, as a container runtime would.
      `/usr/local/bin/${program}`,
      ...rest,
      ...args,
    ];
  }
  /** The image's environment, as a container runtime sets it from the config (and `extra`). */
  function imageEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    const fromConfig = Object.fromEntries(
      (config?.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
    return { ...fromConfig, HOME: '/home/nonroot', ...extra };
  }

  /** The image's entrypoint with these arguments, run to its end. */
  function inImage(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<ToolResult> {
    return runTool('/usr/bin/unshare', entrypointInImage(args), imageEnv(env), {
      check: false,
      timeoutMs: 60_000,
    });
  }

  const verifyArgs = (trustedRoot: string, who: string) => [
    'verify',
    `--trusted-root=${trustedRoot}`,
    `--certificate-identity=${who}`,
    `--certificate-oidc-issuer=${world.kube.issuer}`,
    // This tier runs no CT log: Fulcio's certificates carry no SCT.
    '--insecure-ignore-sct',
    image,
  ];

  const intruder = `https://kubernetes.io/namespaces/${namespace}/serviceaccounts/intruder`;
  function assertVerified(run: ToolResult): void {
    assert.equal(run.code, 0, `sigward verify: ${run.stdout}${run.stderr}`);
    assert.ok(run.stdout.includes(`issuer ${world.kube.issuer}, subject ${identity}`), run.stdout);
  }
  function assertRefused(run: ToolResult): void {
    assert.equal(run.code, 1, `${run.stdout}${run.stderr}`);
    assert.ok(run.stderr.includes('[IDENTITY_SUBJECT_MISMATCH]'), run.stderr);
    assert.ok(run.stderr.includes(`subject: expected "${intruder}", found "${identity}"`), run.stderr);
  }

  check('scripts/build-image.sh builds and pushes the image; its config is the Dockerfile’s', async (t) => {
    const target = `${world.registries.referrers.host}/sigward/sigward:e2e`;
    const layers = world.runDir.sub('image-layers');
    const built = await runTool(
      '/bin/bash',
      ['scripts/build-image.sh', '--push', target, '--layers-dir', layers],
      hostEnv(),
      { cwd: repoRoot, env: { CRANE: goTool('crane') }, timeoutMs: 600_000 },
    );
    const printed = built.stdout.trim().split('\n').at(-1) ?? '';
    assert.match(printed, /^127\.0\.0\.1:\d+\/sigward\/sigward@sha256:[0-9a-f]{64}$/, built.stderr);
    image = printed;
    t.diagnostic(`${built.stderr.trim().split('\n').at(-1)}`);

    config = JSON.parse((await world.clients.crane(['config', image])).stdout) as ImageConfig;
    assert.equal(config.os, 'linux');
    assert.equal(config.architecture, 'amd64');
    assert.deepEqual(config.config.Entrypoint, ['node', 'bin/sigward.js']);
    assert.deepEqual(config.config.Cmd, ['webhook']);
    assert.equal(config.config.User, '65532:65532');
    assert.equal(config.config.WorkingDir, '/app');
    assert.ok(config.config.Env?.includes('NODE_ENV=production'));

    // The Dockerfile says the same: the pinned Node, the entrypoint, the command, the user, the port.
    const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.ok(dockerfile.includes(`ARG NODE_IMAGE=node:${pkg.dependencies['node']}-bookworm-slim`));
    assert.match(dockerfile, /^ENTRYPOINT \["node", "bin\/sigward\.js"\]$/m);
    assert.match(dockerfile, /^CMD \["webhook"\]$/m);
    assert.match(dockerfile, /^USER 65532:65532$/m);
    assert.match(dockerfile, /^WORKDIR \/app$/m);
    assert.match(dockerfile, /^EXPOSE 8443 8081$/m);
    assert.deepEqual(config.config.ExposedPorts, { '8443/tcp': {}, '8081/tcp': {} });
    // Both ship what `npm run build` compiles, never src/ itself: the last stage copies only dist/.
    assert.match(dockerfile, /^RUN npm run build$/m);
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(finalStage, /^COPY --from=build \/app\/dist\/ \.\/$/m);
    assert.doesNotMatch(finalStage, /^COPY (src|bin) /m);
    assert.ok(
      config.config.Env?.includes(`NODE_OPTIONS=${/^ENV NODE_OPTIONS="([^"]*)"$/m.exec(dockerfile)?.[1]}`),
    );

    // The app layer: package.json and the compiled JavaScript (with source maps), no TypeScript.
    const listed = await runTool('/usr/bin/tar', ['-tf', path.join(layers, 'app.tar')], {});
    const files = listed.stdout.split('\n').filter((f) => f !== '' && !f.endsWith('/'));
    assert.ok(files.includes('./app/package.json'), listed.stdout);
    assert.ok(files.includes('./app/bin/sigward.js'), listed.stdout);
    assert.ok(files.includes('./app/src/cli/main.js'), listed.stdout);
    assert.ok(files.includes('./app/src/cli/webhook.js'), listed.stdout);
    assert.deepEqual(
      files.filter((f) => f.endsWith('.ts')),
      [],
      'no TypeScript in the app layer',
    );
    assert.deepEqual(
      files.filter((f) => !/^\.\/app\/(package\.json|(bin|src)\/.+\.js(\.map)?)$/.test(f)),
      [],
      'nothing but package.json and the compiled files',
    );

    const manifest = JSON.parse((await world.clients.crane(['manifest', image])).stdout) as {
      mediaType: string;
      layers: { size: number }[];
    };
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.layers.length, 4, 'base, node, deps, app');
    const compressed = manifest.layers.reduce((sum, l) => sum + l.size, 0);
    t.diagnostic(`compressed layers: ${(compressed / 1024 / 1024).toFixed(1)} MiB`);
  });

  check(
    'the pushed image, exported and run under chroot as uid 65532: --help and webhook --help',
    async (t) => {
      if (process.getuid?.() !== 0) return t.skip('chroot needs root');
      assert.ok(image, 'built by the first test');
      const dir = world.runDir.sub('image');
      rootfs = path.join(dir, 'rootfs');
      mkdirSync(rootfs, { recursive: true });
      const tarball = path.join(dir, 'rootfs.tar');
      await world.clients.crane(['export', image, tarball], { timeoutMs: 300_000 });
      await runTool('/usr/bin/tar', ['-xf', tarball, '-C', rootfs], {}, { timeoutMs: 120_000 });

      const help = await inImage(['--help']);
      assert.equal(help.code, 0, help.stderr);
      // The compiled entrypoint: it runs with Node's TypeScript support switched off.
      const noTypeScript = await inImage(['--help'], { NODE_OPTIONS: '--no-experimental-strip-types' });
      assert.equal(noTypeScript.code, 0, noTypeScript.stderr);
      assert.match(help.stdout, /sigward webhook\s+run the admission webhook/);
      const webhookHelp = await inImage(['webhook', '--help']);
      assert.equal(webhookHelp.code, 0, webhookHelp.stderr);
      assert.match(webhookHelp.stdout, /^Usage: sigward webhook/);
      const version = await runTool(
        '/usr/sbin/chroot',
        ['--userspec=65532:65532', rootfs, '/usr/local/bin/node', '--version'],
        {},
        { check: false },
      );
      assert.equal(version.stdout.trim(), process.version, 'the Node version package.json pins');
    },
  );

  check('sigward sign signs it with a service-account token; sigward verify: identity match', async () => {
    assert.ok(image, 'built by the first test');
    const token = await world.kube.createToken(namespace, serviceAccount, { audience: 'sigstore' });
    const dir = world.runDir.sub('image-token');
    mkdirSync(dir, { recursive: true });
    const signed = await sigward([
      'sign',
      '--oidc-provider=kubernetes',
      `--kubernetes-token-path=${writeSecretFile(dir, 'oidc-token', token)}`,
      `--signing-config=${world.sigstore.signingConfigPath}`,
      `--trusted-root=${world.sigstore.trustedRootPath}`,
      image,
    ]);
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stdout, new RegExp(`Signed ${image.replace(/[.]/g, '\\.')}`));

    const verified = await sigward(verifyArgs(world.sigstore.trustedRootPath, identity));
    assertVerified(verified);
    assertRefused(await sigward(verifyArgs(world.sigstore.trustedRootPath, intruder)));
  });

  check("the image's own sigward, under chroot, verifies the image it runs from", async (t) => {
    if (process.getuid?.() !== 0) return t.skip('chroot needs root');
    assert.ok(rootfs, 'exported by the chroot test');
    // The trusted root as a pod would mount it; the registry is on loopback, shared with the chroot.
    copyFileSync(world.sigstore.trustedRootPath, path.join(rootfs, 'tmp/trusted_root.json'));
    const verified = await inImage(verifyArgs('/tmp/trusted_root.json', identity));
    assertVerified(verified);
    assertRefused(await inImage(verifyArgs('/tmp/trusted_root.json', intruder)));
  });

  check(
    "the image's webhook, started under chroot, admits the signed image and refuses an unsigned one",
    async (t) => {
      if (process.getuid?.() !== 0) return t.skip('chroot needs root');
      assert.ok(rootfs, 'exported by the chroot test');
      // What a Pod would mount: the serving pair, the trusted root (copied by the step above), a policy.
      const mounted = path.join(rootfs, 'tmp/webhook');
      mkdirSync(path.join(mounted, 'policies'), { recursive: true });
      const ca = await createCa(world.runDir.sub('image-webhook-pki'), 'ca');
      const serving = await issueServingCert(ca, world.runDir.sub('image-webhook-pki'), 'serving');
      for (const file of ['certFile', 'keyFile'] as const) {
        copyFileSync(serving[file], path.join(mounted, `tls.${file === 'certFile' ? 'crt' : 'key'}`));
        chmodSync(path.join(mounted, `tls.${file === 'certFile' ? 'crt' : 'key'}`), 0o644);
      }
      const repository = image.slice(0, image.indexOf('@'));
      writeFileSync(
        path.join(mounted, 'policies/release.yaml'),
        JSON.stringify({
          apiVersion: 'policy.sigward.dev/v1alpha1',
          kind: 'ClusterImagePolicy',
          metadata: { name: 'release' },
          spec: {
            images: [`${repository.slice(0, repository.lastIndexOf('/'))}/**`],
            authorities: [
              {
                name: 'release-job',
                // This tier runs no CT log: Fulcio's certificates carry no SCT.
                keyless: {
                  identities: [{ issuer: world.kube.issuer, subject: identity }],
                  insecureIgnoreSCT: true,
                },
              },
            ],
          },
        }),
      );
      const port = await freePort();
      const webhook = await startService({
        name: 'image-webhook',
        command: '/usr/bin/unshare',
        args: entrypointInImage([
          'webhook',
          `--listen=127.0.0.1:${port}`,
          '--policies=/tmp/webhook/policies',
          '--trusted-root=/tmp/trusted_root.json',
          '--tls-cert=/tmp/webhook/tls.crt',
          '--tls-key=/tmp/webhook/tls.key',
        ]),
        env: imageEnv(),
        withheldEnv: /./,
        logDir: world.runDir.sub('image-webhook'),
        ready: async () => (await request('GET', '/readyz').catch(() => undefined))?.status === 200,
      });
      function request(method: 'GET' | 'POST', route: string, body?: object) {
        return new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = https.request(
            `https://127.0.0.1:${port}${route}`,
            { method, ca: ca.certPem, headers: { 'content-type': 'application/json' } },
            (res) => {
              let text = '';
              res.setEncoding('utf8').on('data', (c: string) => (text += c));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
            },
          );
          req.on('error', reject);
          req.end(body === undefined ? undefined : JSON.stringify(body));
        });
      }
      const review = async (ref: string) => {
        const answer = await request('POST', '/validate', podReview([ref]));
        assert.equal(answer.status, 200, answer.body);
        return (JSON.parse(answer.body) as { response: { allowed: boolean; status?: { message?: string } } })
          .response;
      };
      try {
        const admitted = await review(image);
        assert.equal(admitted.allowed, true, JSON.stringify(admitted));
        const unsigned = `${repository}-unsigned@${image.slice(image.indexOf('@') + 1)}`;
        const refused = await review(unsigned);
        assert.equal(refused.allowed, false, JSON.stringify(refused));
        assert.ok(refused.status?.message?.includes(unsigned), refused.status?.message);
      } finally {
        await webhook.stop();
      }
    },
  );
});
