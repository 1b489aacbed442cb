// What `sigward webhook` loads before its first review is its memory floor: heavy packages that only some
// installations need must load when first used. Recorded with a module resolve hook in a child process
// (importing the webhook's command module, or running a whole command); a package listed here loaded at
// start fails the test.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { PROD_ROOT_PATH, REPO_ROOT } from '../sigstore/ext.ts';
import { TestTufRepo } from '../sigstore/tuf-repo.ts';
import { freshEnv } from './webhook-process.ts';

/**
 * Never at start: @kubernetes/client-node is not used at all (+80 MiB RSS); cloud SDKs load on first
 * use, and the CEL libraries when the first attestation condition compiles (~5 MiB RSS).
 */
const NOT_AT_START = [
  '@kubernetes/client-node',
  '@aws-sdk/client-ecr',
  '@aws-sdk/credential-providers',
  'google-auth-library',
  '@azure/identity',
  '@bufbuild/cel',
  '@marcbachmann/cel-js',
];

/** Loaded only when a root is refreshed through TUF: never with `--trusted-root FILE`. */
const TUF_PACKAGES = ['@sigstore/tuf', 'tuf-js'];

/** Records every package resolved; at exit writes them to $SIGWARD_TEST_PACKAGES_FILE, else stdout. */
const hook = `
import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(resolved.url);
    if (m) seen.add(m[1]);
    return resolved;
  },
});
process.on('exit', () => {
  const file = process.env.SIGWARD_TEST_PACKAGES_FILE;
  if (file) writeFileSync(file, JSON.stringify([...seen]));
  else process.stdout.write(JSON.stringify([...seen]));
});
`;
const hookArgs = ['--import', `data:text/javascript,${encodeURIComponent(hook)}`];

let dir: string;
let packagesFile: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sigward-start-up-modules-'));
  packagesFile = join(dir, 'packages.json');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const loadedPackages = (): string[] => JSON.parse(readFileSync(packagesFile, 'utf8')) as string[];
const tufPackagesIn = (loaded: readonly string[]): string[] => TUF_PACKAGES.filter((p) => loaded.includes(p));

/** `sigward ARGS` (src/cli/main.ts) run to its end under the hook; the packages it loaded. */
async function packagesOfCommand(
  args: readonly string[],
): Promise<{ code: number | null; loaded: string[] }> {
  const child = spawn(process.execPath, [...hookArgs, join(REPO_ROOT, 'src/cli/main.ts'), ...args], {
    env: { ...freshEnv(), SIGWARD_TEST_PACKAGES_FILE: packagesFile },
    stdio: 'ignore',
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, loaded: loadedPackages() };
}

test('the webhook command loads neither @kubernetes/client-node, a cloud SDK nor a CEL library at start', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [
    ...hookArgs,
    '--input-type=module',
    '-e',
    "await import('./src/cli/webhook.ts');",
  ]);
  const loaded = JSON.parse(stdout) as string[];
  assert.ok(loaded.includes('fastify'), `the hook saw the packages: ${loaded.join(' ')}`);
  assert.deepEqual(
    NOT_AT_START.filter((p) => loaded.includes(p)),
    [],
  );
  assert.deepEqual(tufPackagesIn(loaded), []);
});

test('sigward webhook --trusted-root FILE never loads @sigstore/tuf, from start to shutdown', async () => {
  const policies = mkdtempSync(join(dir, 'policies-'));
  const child = spawn(
    process.execPath,
    [
      ...hookArgs,
      join(REPO_ROOT, 'src/cli/main.ts'),
      'webhook',
      '--listen=127.0.0.1:0',
      `--policies=${policies}`,
      `--trusted-root=${PROD_ROOT_PATH}`,
    ],
    { env: { ...freshEnv(), SIGWARD_TEST_PACKAGES_FILE: packagesFile }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
      if (err.includes('listening on')) resolve();
    });
    void exited.then((code) => reject(new Error(`exited ${code} before listening: ${err}`)));
  });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, err);
  const loaded = loadedPackages();
  assert.ok(loaded.includes('@sigstore/verify'), `the hook saw the packages: ${loaded.join(' ')}`);
  assert.deepEqual(tufPackagesIn(loaded), []);
});

test('sigward verify loads @sigstore/tuf for a TUF mirror and not with --trusted-root FILE', async () => {
  const repo = new TestTufRepo();
  repo.publish({ 'trusted_root.json': readFileSync(PROD_ROOT_PATH) });
  await repo.serve();
  try {
    const rootPath = join(dir, 'root.json');
    writeFileSync(rootPath, repo.initialRoot);
    // Nothing listens on port 1: each run gets its root, then fails to reach the registry (exit 1).
    const verifyArgs = [
      'verify',
      '--certificate-identity=someone@example.com',
      '--certificate-oidc-issuer=https://issuer.example.com',
      `127.0.0.1:1/app@sha256:${'a'.repeat(64)}`,
    ];
    const fromFile = await packagesOfCommand([...verifyArgs, `--trusted-root=${PROD_ROOT_PATH}`]);
    assert.equal(fromFile.code, 1);
    assert.ok(fromFile.loaded.includes('@sigstore/verify'), fromFile.loaded.join(' '));
    assert.deepEqual(tufPackagesIn(fromFile.loaded), []);

    const fromMirror = await packagesOfCommand([
      ...verifyArgs,
      `--tuf-mirror=${repo.url}`,
      `--tuf-root=${rootPath}`,
    ]);
    assert.equal(fromMirror.code, 1);
    assert.ok(repo.requests.includes('timestamp.json'), repo.requests.join(' '));
    assert.deepEqual(tufPackagesIn(fromMirror.loaded), TUF_PACKAGES);
  } finally {
    await repo.close();
  }
});
