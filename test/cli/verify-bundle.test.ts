// sigstore-conformance bundle-verify: all 70 cases through the real CLI (`node src/cli/main.ts
// verify-bundle …`), once with the artifact path and once with `sha256:<hex>`, the prod root where a
// case has none. Plus the extra flags (regexp, extensions) and the reasons a person reads.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { verifyUsage } from '../../src/cli/verify.ts';
import { PROD_ROOT_PATH, REPO_ROOT, ext } from '../sigstore/ext.ts';

const CASES = ext('sigstore-conformance/bundle-verify');
const DEFAULT_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sigward(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'src/cli/main.ts'), 'verify-bundle', ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const optional = (dir: string, name: string): string | undefined => {
  const path = join(dir, name);
  return existsSync(path) ? path : undefined;
};

function conformanceArgs(name: string, mode: 'path' | 'digest'): string[] {
  const dir = join(CASES, name);
  const artifact = optional(dir, 'artifact') ?? join(CASES, 'a.txt');
  const root = optional(dir, 'trusted_root.json') ?? PROD_ROOT_PATH;
  const key = optional(dir, 'key.pub');
  const identity = optional(dir, 'identity');
  const issuer = optional(dir, 'issuer');
  const signer = key
    ? ['--key', key]
    : [
        '--certificate-identity',
        identity ? readFileSync(identity, 'utf8').trim() : DEFAULT_IDENTITY,
        '--certificate-oidc-issuer',
        issuer ? readFileSync(issuer, 'utf8').trim() : DEFAULT_ISSUER,
      ];
  const target =
    mode === 'path'
      ? artifact
      : `sha256:${createHash('sha256').update(readFileSync(artifact)).digest('hex')}`;
  return ['--bundle', join(dir, 'bundle.sigstore.json'), ...signer, '--trusted-root', root, target];
}

const names = readdirSync(CASES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

test('the conformance suite has its 70 cases', () => {
  assert.equal(names.length, 70);
});

describe('sigstore-conformance bundle-verify through the CLI', { concurrency: 8 }, () => {
  for (const name of names) {
    for (const mode of ['path', 'digest'] as const) {
      const expectPass = !name.endsWith('_fail');
      test(`${name} (${mode}) ${expectPass ? 'passes' : 'fails'}`, async () => {
        const r = await sigward(conformanceArgs(name, mode));
        if (expectPass) {
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, /^OK: /);
        } else {
          assert.equal(r.code, 1, `expected failure, got ${r.code}: ${r.stdout}`);
          assert.match(r.stderr, /verification FAILED|sigward verify-bundle: /);
        }
      });
    }
  }
});

const happy = join(CASES, 'happy-path-v0.3');
const base = (): string[] => [
  '--bundle',
  join(happy, 'bundle.sigstore.json'),
  '--trusted-root',
  PROD_ROOT_PATH,
];

describe('verify-bundle flags and reasons', { concurrency: 4 }, () => {
  test('a wrong identity fails with expected and found', async () => {
    const r = await sigward([
      ...base(),
      '--certificate-identity',
      'https://github.com/x/y',
      '--certificate-oidc-issuer',
      DEFAULT_ISSUER,
      join(CASES, 'a.txt'),
    ]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /\[IDENTITY_MISMATCH\]: the signer is not the expected identity: subject: expected "https:\/\/github.com\/x\/y", found "https:\/\/github.com\/sigstore-conformance/,
    );
  });

  test('identity regexp is anchored: a prefix pattern does not match', async () => {
    const prefix = await sigward([
      ...base(),
      '--certificate-identity-regexp',
      'https://github\\.com/sigstore-conformance/',
      '--certificate-oidc-issuer-regexp',
      'https://token\\.actions\\.githubusercontent\\.com',
      join(CASES, 'a.txt'),
    ]);
    assert.equal(prefix.code, 1);
    assert.match(prefix.stderr, /subject: expected a value matching/);
    const full = await sigward([
      ...base(),
      '--certificate-identity-regexp',
      'https://github\\.com/sigstore-conformance/.*@refs/heads/main',
      '--certificate-oidc-issuer-regexp',
      'https://token\\.actions\\.githubusercontent\\.com',
      join(CASES, 'a.txt'),
    ]);
    assert.equal(full.code, 0, full.stderr);
  });

  test('--certificate-extension matches named Fulcio extensions', async () => {
    const args = [
      ...base(),
      '--certificate-identity',
      DEFAULT_IDENTITY,
      '--certificate-oidc-issuer',
      DEFAULT_ISSUER,
    ];
    const ok = await sigward([
      ...args,
      '--certificate-extension',
      'githubWorkflowRef=refs/heads/main',
      join(CASES, 'a.txt'),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await sigward([
      ...args,
      '--certificate-extension',
      'githubWorkflowRef=refs/heads/dev',
      join(CASES, 'a.txt'),
    ]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /certificate extension githubWorkflowRef: expected "refs\/heads\/dev", found "refs\/heads\/main"/,
    );
    const unknown = await sigward([...args, '--certificate-extension', 'nope=1', join(CASES, 'a.txt')]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--certificate-extension nope: unknown Fulcio extension/);
  });

  test("the GitHub workflow flags are sigward verify's, and match the certificate's extensions", async () => {
    const args = [
      ...base(),
      '--certificate-identity',
      DEFAULT_IDENTITY,
      '--certificate-oidc-issuer',
      DEFAULT_ISSUER,
    ];
    const ok = await sigward([
      ...args,
      '--certificate-github-workflow-repository',
      'sigstore-conformance/extremely-dangerous-public-oidc-beacon',
      '--certificate-github-workflow-ref',
      'refs/heads/main',
      '--certificate-github-workflow-trigger',
      'workflow_dispatch',
      join(CASES, 'a.txt'),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await sigward([
      ...args,
      '--certificate-github-workflow-trigger',
      'schedule',
      join(CASES, 'a.txt'),
    ]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /certificate extension githubWorkflowTrigger: expected "schedule", found "workflow_dispatch"/,
    );
    // Every identity flag `sigward verify` lists is known here too (none is refused as unknown).
    const flags = [...verifyUsage.matchAll(/--certificate-[a-z-]*[a-z](?:-\{[a-z,]+\})?/g)].flatMap(([f]) => {
      const [head, alternatives] = f.split('-{');
      return alternatives === undefined
        ? [f]
        : alternatives
            .replace('}', '')
            .split(',')
            .map((a) => `${head}-${a}`);
    });
    assert.ok(flags.length >= 10, flags.join(' '));
    for (const flag of flags) {
      const r = await sigward([
        ...args,
        flag,
        flag === '--certificate-extension' ? 'x=y' : 'v',
        join(CASES, 'a.txt'),
      ]);
      assert.doesNotMatch(r.stderr, /Unknown option/, `${flag}: ${r.stderr}`);
    }
  });

  test('an invalid regexp is reported with its flag', async () => {
    const r = await sigward([
      ...base(),
      '--certificate-identity-regexp',
      '(',
      '--certificate-oidc-issuer',
      DEFAULT_ISSUER,
      join(CASES, 'a.txt'),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--certificate-identity-regexp: invalid regular expression/);
  });

  test('usage errors exit 1 with the usage text', async () => {
    const none = await sigward([join(CASES, 'a.txt')]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /--bundle is required/);
    const both = await sigward([
      ...base(),
      '--key',
      'k',
      '--certificate-identity',
      'x',
      join(CASES, 'a.txt'),
    ]);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /not both/);
  });

  test('a key signature can skip the log only when asked (--insecure-ignore-tlog)', async () => {
    const dir = join(CASES, 'managed-key-happy-path');
    const args = [
      '--bundle',
      join(dir, 'bundle.sigstore.json'),
      '--key',
      join(dir, 'key.pub'),
      '--trusted-root',
      PROD_ROOT_PATH,
    ];
    assert.equal((await sigward([...args, join(CASES, 'a.txt')])).code, 0);
    assert.equal((await sigward([...args, '--insecure-ignore-tlog', join(CASES, 'a.txt')])).code, 0);
  });

  test('the trusted root without validFor.start is refused with a reason', async () => {
    const dir = join(CASES, 'trust-root-tlog-missing-validity-start_fail');
    const r = await sigward([
      '--bundle',
      join(dir, 'bundle.sigstore.json'),
      '--certificate-identity',
      DEFAULT_IDENTITY,
      '--certificate-oidc-issuer',
      DEFAULT_ISSUER,
      '--trusted-root',
      join(dir, 'trusted_root.json'),
      join(CASES, 'a.txt'),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[SIGSTORE_TRUST_ROOT_INVALID\].*tlogs\[1\].*has no validFor.start/);
  });
});
