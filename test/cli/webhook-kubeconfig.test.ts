// `sigward webhook` with a kubeconfig it cannot use stops at start with one line naming the file and the
// entry (exit 2), never a stack trace, and never a credential from the file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const dir = mkdtempSync(path.join(tmpdir(), 'sigward-webhook-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function webhook(kubeconfig: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/sigward.js', 'webhook', '--listen=127.0.0.1:0', `--kubeconfig=${kubeconfig}`],
      { timeout: 30_000 },
      (error, _stdout, stderr) =>
        resolve({ code: error === null ? 0 : (error.code as number | null), stderr }),
    );
  });
}

test('a missing kubeconfig: exit 2, one line naming it', async () => {
  const { code, stderr } = await webhook(path.join(dir, 'missing'));
  assert.equal(code, 2);
  assert.match(
    stderr.split('\n')[0] ?? '',
    /^sigward webhook: kubeconfig .*missing could not be read \(ENOENT\)$/,
  );
  assert.doesNotMatch(stderr, /\n\s+at /);
});

test('a legacy auth-provider user: exit 2, the entry named, its token not shown', async () => {
  const file = path.join(dir, 'auth-provider');
  writeFileSync(
    file,
    JSON.stringify({
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [
        {
          name: 'gke-user',
          user: { 'auth-provider': { name: 'gcp', config: { 'access-token': 'ya29.secret-access-token' } } },
        },
      ],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'gke-user' } }],
      'current-context': 'x',
    }),
  );
  const { code, stderr } = await webhook(file);
  assert.equal(code, 2);
  assert.match(stderr, /user "gke-user" uses the auth-provider "gcp".*use an exec credential plugin/);
  assert.doesNotMatch(stderr, /ya29/);
});
