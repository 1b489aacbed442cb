// `sigward webhook` refuses a flag value it cannot honour before it starts anything: exit 2, one line
// naming the flag and what it takes, then the usage (never a stack trace, never a start with a default).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../sigstore/ext.ts';

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
  ['--recheck-rate=0', /^sigward webhook: --recheck-rate is a number above 0/m],
  ['--no-such-flag', /^sigward webhook: Unknown option '--no-such-flag'/m],
];

for (const [flag, message] of refusals)
  test(`webhook ${flag}: exit 2 naming the flag and what it takes, then the usage`, async () => {
    const r = await webhook([flag]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /Usage: sigward webhook/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
