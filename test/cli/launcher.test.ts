// `./bin/sigward` as a newcomer types it after `npm ci`: whatever `node` the shell finds first (the
// machines carry Node 20, which cannot run sigward's TypeScript), the command works, on the project's
// Node 24, and its stdout is only what sigward prints (`--output json` parses, no npm banner).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { PROD_ROOT_PATH, REPO_ROOT } from '../sigstore/ext.ts';

/** PATH without the project's node_modules/.bin: the shell of someone who just ran `npm ci`. */
const shellPath = (process.env['PATH'] ?? '')
  .split(delimiter)
  .filter((dir) => !dir.startsWith(join(REPO_ROOT, 'node_modules')))
  .join(delimiter);

/** The `node` that shell finds, and its version ('' when there is none). */
function shellNode(): { path: string; version: string } {
  try {
    const path = execFileSync('sh', ['-c', 'command -v node'], { env: { PATH: shellPath } })
      .toString()
      .trim();
    return { path, version: execFileSync(path, ['--version']).toString().trim() };
  } catch {
    return { path: '', version: '' };
  }
}

function run(
  command: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env: { ...process.env, PATH: shellPath } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

const older = shellNode();
const olderNode = /^v(\d+)\./.exec(older.version)?.[1];
const skipOld =
  olderNode === undefined || Number(olderNode) >= 24
    ? `the shell's node is ${older.version || 'missing'}`
    : false;

test('./bin/sigward --help works with the shell node first on PATH', async () => {
  const r = await run(join(REPO_ROOT, 'bin/sigward'), ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sigward: admit only container images signed by the right Sigstore identity\n/);
  assert.equal(r.stderr, '');
});

test('verify --output json: stdout is exactly one JSON verdict (no banner, no warnings)', async () => {
  const r = await run(join(REPO_ROOT, 'bin/sigward'), [
    'verify',
    '--output=json',
    `--trusted-root=${PROD_ROOT_PATH}`,
    '--certificate-identity=someone@example.com',
    '--certificate-oidc-issuer=https://accounts.example.com',
    `127.0.0.1:1/app@sha256:${'0'.repeat(64)}`,
  ]);
  assert.notEqual(r.code, 0);
  const verdict = JSON.parse(r.stdout) as { status: string; code: string };
  assert.equal(verdict.status, 'error');
  assert.match(verdict.code, /^REGISTRY_/);
});

test(
  'an old node with no project Node 24 beside it: one line saying what to do',
  { skip: skipOld },
  async () => {
    // The launcher alone in a directory with no node_modules: nothing to re-run on.
    const dir = mkdtempSync(join(tmpdir(), 'sigward-launcher-'));
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(REPO_ROOT, 'bin/sigward.js'), join(dir, 'bin/sigward.js'));
    const r = await run(older.path, [join(dir, 'bin/sigward.js'), '--help']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `sigward: needs Node >= 24.15 (this is ${older.version} at ${older.path}): run \`npm ci\` in ${dir} ` +
        '(it installs Node 24 into node_modules), or put Node 24 first on PATH\n',
    );
  },
);

test('sigward policy --help names its one subcommand (exit 0); a missing or unknown one exits 2', async () => {
  const help = await run(join(REPO_ROOT, 'bin/sigward'), ['policy', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: sigward policy test \[options\]/);
  assert.equal(help.stderr, '');
  const none = await run(join(REPO_ROOT, 'bin/sigward'), ['policy']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^sigward policy: needs a subcommand\n\nUsage: sigward policy test/);
  const unknown = await run(join(REPO_ROOT, 'bin/sigward'), ['policy', 'tset']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^sigward policy: unknown subcommand "tset"\n/);
});
