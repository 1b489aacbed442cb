// `sigward webhook` refuses a flag value it cannot honour before it starts anything: exit 2, one line
// naming the flag and what it takes, then the usage (never a stack trace, never a start with a default).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../sigstore/ext.ts';
import { makeTestTls } from '../support/tls.ts';

// Client CA bundles that cannot be used, and one that can (for the flags that need it).
const dir = mkdtempSync(join(tmpdir(), 'sigward-webhook-flags-'));
const tls = makeTestTls(dir);
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const emptyCa = file('empty.pem', '');
const textCa = file('text.pem', 'ca goes here\n');
const goodCa = join(dir, 'ca.pem');

function webhook(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      join(REPO_ROOT, 'bin/sigward'),
      ['webhook', '--listen=127.0.0.1:0', ...args],
      { env: { ...process.env, KUBECONFIG: '/nonexistent', KUBERNETES_SERVICE_HOST: '' }, timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    );
  });
}

const refusals: ReadonlyArray<readonly [string, RegExp]> = [
  [
    '--log-level=verbose',
    /^sigward webhook: --log-level is one of fatal, error, warn, info, debug, trace, silent$/m,
  ],
  ['--timeout-seconds=31', /^sigward webhook: --timeout-seconds is an integer from 1 to 30/m],
  ['--no-match-action=ignore', /^sigward webhook: --no-match-action is allow, warn or deny$/m],
  ['--failure-outcome=warn', /^sigward webhook: --failure-outcome is deny or allow$/m],
  ['--scope=everything', /^sigward webhook: --scope is opt-out or opt-in$/m],
  ['--tls-cert=/tmp/cert.pem', /^sigward webhook: --tls-cert and --tls-key go together$/m],
  ['--verified-ttl-seconds=-1', /^sigward webhook: --verified-ttl-seconds is a whole number$/m],
  ['--verdict-cache-entries=0', /^sigward webhook: --verdict-cache-entries is at least 1$/m],
  ['--attestation-cache-entries=0', /^sigward webhook: --attestation-cache-entries is at least 1$/m],
  ['--leaf-memo-entries=-1', /^sigward webhook: --leaf-memo-entries is a whole number$/m],
  ['--leaf-memo-entries=many', /^sigward webhook: --leaf-memo-entries is a whole number$/m],
  ['--recheck-rate=0', /^sigward webhook: --recheck-rate is a number above 0/m],
  ['--no-such-flag', /^sigward webhook: Unknown option '--no-such-flag'/m],
  [
    `--client-ca=${join(dir, 'missing.pem')}`,
    /^sigward webhook: --client-ca \S+missing\.pem does not exist$/m,
  ],
  [`--client-ca=${emptyCa}`, /^sigward webhook: --client-ca \S+empty\.pem is empty$/m],
  [`--client-ca=${textCa}`, /^sigward webhook: --client-ca \S+text\.pem holds no PEM block/m],
  [
    `--client-ca=${tls.keyFile}`,
    /^sigward webhook: --client-ca \S+server\.key block 1 is a PRIVATE KEY, not a CERTIFICATE/m,
  ],
  ['--client-name=kube-apiserver', /^sigward webhook: --client-name needs --client-ca/m],
  ['--health-listen=8081', /^sigward webhook: --health-listen wants HOST:PORT, got "8081"$/m],
  [
    '--listen=127.0.0.1:8443 --health-listen=127.0.0.1:8443',
    /^sigward webhook: --health-listen is another address than --listen/m,
  ],
];

for (const [flag, message] of refusals)
  test(`webhook ${flag.replace(dir, 'DIR')}: exit 2 naming the flag and what it takes, then the usage`, async () => {
    const r = await webhook(flag.split(' '));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /Usage: sigward webhook/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

test('webhook --client-ca with an empty --client-name: exit 2 naming the flag', async () => {
  const r = await webhook([`--client-ca=${goodCa}`, '--client-name=']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^sigward webhook: --client-name is a name, not empty$/m);
});
