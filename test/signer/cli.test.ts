// `sigward sign` / `sigward attest` on the command line: usage errors exit 2 with the usage, failures
// exit 1 with a code, and neither repeats a token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runSign } from '../../src/cli/sign.ts';

async function run(
  command: 'sign' | 'attest',
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runSign(command, args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const dir = mkdtempSync(path.join(tmpdir(), 'sigward-cli-'));
const root = path.join(dir, 'trusted_root.json');
writeFileSync(
  root,
  JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1' }),
);
const config = path.join(dir, 'signing_config.json');
writeFileSync(
  config,
  JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [{ url: 'http://127.0.0.1:1', majorApiVersion: 1, validFor: { start: '2020-01-01T00:00:00Z' } }],
    rekorTlogUrls: [
      { url: 'http://127.0.0.1:1', majorApiVersion: 2, validFor: { start: '2020-01-01T00:00:00Z' } },
    ],
    tsaUrls: [
      { url: 'http://127.0.0.1:1/ts', majorApiVersion: 1, validFor: { start: '2020-01-01T00:00:00Z' } },
    ],
  }),
);
const files = [`--trusted-root=${root}`, `--signing-config=${config}`];

test('usage errors: exit 2 and the usage', async () => {
  for (const args of [
    [],
    ['a', 'b'],
    ['--format=other', 'reg.example/app:1'],
    ['--oidc-provider=browser', 'reg.example/app:1'],
  ]) {
    const result = await run('sign', [...files, ...args]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.err}`);
    assert.match(result.err, /Usage: sigward sign/);
  }
  const attest = await run('attest', [...files, 'reg.example/app:1']);
  assert.equal(attest.code, 2);
  assert.match(attest.err, /attest needs --predicate FILE and --type TYPE/);
  assert.equal((await run('sign', ['--help'])).code, 0);
});

test('no identity token: exit 1 with SIGNER_TOKEN_MISSING, before any registry is contacted', async () => {
  const result = await run('sign', [...files, '--oidc-provider=env', 'reg.invalid/app:1']);
  assert.equal(result.code, 1, result.err);
  assert.match(
    result.err,
    /FAILED \[SIGNER_TOKEN_MISSING\]: --oidc-provider env: SIGSTORE_ID_TOKEN is not set/,
  );
});

test('a secret given to --identity-token that is no token is never repeated', async () => {
  const secret = 'not-a-jwt-but-a-password-123';
  const result = await run('sign', [...files, `--identity-token=${secret}`, 'reg.invalid/app:1']);
  assert.equal(result.code, 1);
  assert.ok(!result.err.includes(secret), result.err);
});

test('an unusable service override is refused before signing', async () => {
  const result = await run('sign', [
    `--trusted-root=${root}`,
    `--signing-config=${config}`,
    '--timestamp-server-url=ftp://x',
    'reg.invalid/app:1',
  ]);
  assert.equal(result.code, 1);
  assert.match(result.err, /SIGNER_CONFIG.*http\(s\) URL/);
});

test("cosign's provider names: filesystem is the Kubernetes token file, envvar is SIGSTORE_ID_TOKEN", async () => {
  const missing = path.join(dir, 'no-token-here');
  const result = await run('sign', [
    ...files,
    '--oidc-provider=filesystem',
    `--kubernetes-token-path=${missing}`,
    'reg.invalid/app:1',
  ]);
  assert.equal(result.code, 1, result.err);
  assert.match(
    result.err,
    /SIGNER_TOKEN_MISSING\]: cannot read the Kubernetes service-account token file .*no-token-here/,
  );
  const env = await run('sign', [...files, '--oidc-provider=envvar', 'reg.invalid/app:1']);
  assert.match(env.err, /--oidc-provider env: SIGSTORE_ID_TOKEN is not set/);
});

test('--allow-insecure-registry, the name verify, policy test and webhook use, is accepted like --insecure-registry', async () => {
  for (const flag of ['--allow-insecure-registry', '--insecure-registry'])
    for (const command of ['sign', 'attest'] as const) {
      const attest = command === 'attest' ? ['--predicate', root, '--type', 'custom'] : [];
      const result = await run(command, [
        ...files,
        ...attest,
        flag,
        'registry.internal:5000',
        '--oidc-provider=env',
        'registry.internal:5000/app:1',
      ]);
      // Past parsing: the missing token is the first thing refused, before any registry is contacted.
      assert.equal(result.code, 1, `${command} ${flag}: ${result.err}`);
      assert.match(result.err, /SIGNER_TOKEN_MISSING/);
    }
  const usage = (await run('sign', ['--help'])).out;
  assert.match(usage, /--allow-insecure-registry HOST/);
});
