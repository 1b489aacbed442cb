// sigward's own container image, built without Docker (scripts/build-image.sh: OCI tar layers pushed with
// crane) into the world's referrers registry; the pushed image is exported and its entrypoint run under
// unshare --root (a chroot) as uid 65532; `sigward sign` signs it with a service-account token, as a
// release Job would; `sigward verify` admits it under the signer's identity and refuses another; and the
// image's own sigward verifies itself from inside the chroot.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTool, writeSecretFile, type ToolResult } from './world/clients.ts';
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

  /** The image's entrypoint, in the image's rootfs, as the image's user, in its working directory. */
  function inImage(args: readonly string[]): Promise<ToolResult> {
    const c = config?.config;
    assert.ok(c?.Entrypoint && c.User && c.WorkingDir, 'the image config was read');
    const [uid, gid] = c.User.split(':');
    const [program, ...rest] = c.Entrypoint;
    return runTool(
      '/usr/bin/unshare',
      [
        `--root=${rootfs}`,
        `--wd=${c.WorkingDir}`,
        `--setgid=${gid ?? uid}`,
        `--setuid=${uid}`,
        '--',
        // The image's PATH finds node at /usr/local/bin, as a container runtime would.
        `/usr/local/bin/${program}`,
        ...rest,
        ...args,
      ],
      { PATH: '/usr/local/bin:/usr/bin', HOME: '/home/nonroot', NODE_ENV: 'production' },
      { check: false, timeoutMs: 60_000 },
    );
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
    const built = await runTool('/bin/bash', ['scripts/build-image.sh', '--push', target], hostEnv(), {
      cwd: repoRoot,
      env: { CRANE: goTool('crane') },
      timeoutMs: 600_000,
    });
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
    assert.match(dockerfile, /^EXPOSE 8443$/m);
    assert.deepEqual(config.config.ExposedPorts, { '8443/tcp': {} });

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
});
