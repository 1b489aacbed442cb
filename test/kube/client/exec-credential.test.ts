// The exec credential plugin (kube/client/exec-credential.ts), run for real: small shell scripts stand
// for aws/gke-gcloud-auth-plugin/kubelogin. The answer is cached until its expirationTimestamp and fetched
// again after it (or after a 401); every way a plugin can fail is an error naming the kubeconfig user and
// the command, with the install hint when it is missing, and never the token or the plugin's output.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { SigwardError } from '../../../src/errors.ts';
import { execAuthenticator } from '../../../src/kube/client/exec-credential.ts';
import type { ExecConfig } from '../../../src/kube/client/exec-credential.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'sigward-exec-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const V1 = 'client.authentication.k8s.io/v1';
const TOKEN = 'plugin-issued-token-5e6f7a8b9c0d1e2f';
let n = 0;

/** A plugin script; `answer` is printed on stdout; each run appends a line to `<script>.runs`. */
function plugin(body: string): string {
  const file = path.join(dir, `plugin-${++n}.sh`);
  writeFileSync(file, `#!/bin/sh\necho run >> "${file}.runs"\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}
const runs = (file: string): number => {
  try {
    return readFileSync(`${file}.runs`, 'utf8').trim().split('\n').length;
  } catch {
    return 0;
  }
};
const printing = (answer: unknown): string => `cat <<'JSON'\n${JSON.stringify(answer)}\nJSON`;
const credential = (status: unknown, apiVersion = V1) => ({ apiVersion, kind: 'ExecCredential', status });
const exec = (command: string, extra: Partial<ExecConfig> = {}): ExecConfig => ({
  apiVersion: V1,
  command,
  args: [],
  env: [],
  ...extra,
});
const context = {
  user: 'eks-admin',
  file: path.join(dir, 'kubeconfig'),
  cluster: { server: 'https://k:6443' },
};

async function fails(config: ExecConfig, pattern: RegExp, extra: object = {}): Promise<SigwardError> {
  let caught: unknown;
  try {
    await execAuthenticator(config, { ...context, ...extra }).current();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SigwardError, `expected a SigwardError, got ${String(caught)}`);
  assert.equal(caught.code, 'KUBE_EXEC_PLUGIN_FAILED');
  assert.match(caught.message, /of kubeconfig user "eks-admin"/);
  assert.match(caught.message, pattern);
  assert.doesNotMatch(caught.message, new RegExp(TOKEN));
  return caught;
}

test('a token is cached until its expirationTimestamp, then the plugin runs again', async () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const script = plugin(printing(credential({ token: TOKEN, expirationTimestamp: '2026-01-01T00:15:00Z' })));
  const auth = execAuthenticator(exec(script), { ...context, now: () => now });
  const [a, b] = await Promise.all([auth.current(), auth.current()]);
  assert.equal(a.headers['authorization'], `Bearer ${TOKEN}`);
  assert.equal(b, a);
  await auth.current();
  assert.equal(runs(script), 1);
  now = Date.parse('2026-01-01T00:14:59Z');
  await auth.current();
  assert.equal(runs(script), 1);
  now = Date.parse('2026-01-01T00:15:00Z');
  await assert.rejects(auth.current(), /had already expired/); // the same answer again is expired now
  assert.equal(runs(script), 2);
});

test('without an expiry the answer is kept until a 401 invalidates it', async () => {
  const script = plugin(printing(credential({ token: TOKEN })));
  const auth = execAuthenticator(exec(script), context);
  await auth.current();
  await auth.current();
  assert.equal(runs(script), 1);
  auth.invalidate();
  await auth.current();
  assert.equal(runs(script), 2);
});

test('the plugin gets args, its env, and KUBERNETES_EXEC_INFO (non-interactive, cluster when asked)', async () => {
  const seen = path.join(dir, 'seen.json');
  const script = plugin(
    `printf '{"args":"%s","region":"%s","info":%s}' "$*" "$AWS_REGION" "$KUBERNETES_EXEC_INFO" > ${seen}\n` +
      printing(credential({ token: TOKEN }, 'client.authentication.k8s.io/v1beta1')),
  );
  await execAuthenticator(
    exec(script, {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      args: ['eks', 'get-token'],
      env: [{ name: 'AWS_REGION', value: 'eu-west-1' }],
      provideClusterInfo: true,
    }),
    context,
  ).current();
  assert.deepEqual(JSON.parse(readFileSync(seen, 'utf8')), {
    args: 'eks get-token',
    region: 'eu-west-1',
    info: {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      spec: { interactive: false, cluster: { server: 'https://k:6443' } },
    },
  });
});

test('a client certificate and key from the plugin are used for TLS', async () => {
  const script = plugin(
    printing(credential({ clientCertificateData: 'CERT PEM', clientKeyData: 'KEY PEM' })),
  );
  const issued = await execAuthenticator(exec(script), context).current();
  assert.deepEqual(issued, { headers: {}, cert: 'CERT PEM', key: 'KEY PEM' });
});

test('a relative command with a slash runs from the kubeconfig directory', async () => {
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  const script = plugin(printing(credential({ token: TOKEN })));
  const relative = path.join('bin', 'rel-plugin.sh');
  writeFileSync(path.join(dir, relative), readFileSync(script));
  chmodSync(path.join(dir, relative), 0o755);
  const issued = await execAuthenticator(exec(`./${relative}`), context).current();
  assert.equal(issued.headers['authorization'], `Bearer ${TOKEN}`);
});

test('a plugin not on PATH: not installed, with the kubeconfig install hint', async () => {
  await fails(
    exec('sigward-no-such-credential-plugin', { installHint: 'Install it with: brew install the-plugin' }),
    /sigward-no-such-credential-plugin .*is not installed \(executable sigward-no-such-credential-plugin not found on PATH\).*Install it with: brew install the-plugin/,
  );
});

test('a failing plugin: its exit code and last stderr line, secrets redacted', async () => {
  const error = await fails(
    exec(
      plugin(`echo "progress..." >&2\necho "error: token ${TOKEN} expired, run aws sso login" >&2\nexit 3`),
    ),
    /exited with code 3: error: token \[redacted\] expired, run aws sso login/,
  );
  assert.doesNotMatch(error.message, /progress/);
});

test('answers that are not a usable ExecCredential are refused, saying what was wrong', async () => {
  await fails(exec(plugin(`echo "${TOKEN} not json"`)), /printed something that is not JSON/);
  await fails(
    exec(plugin(printing({ apiVersion: V1, kind: 'Secret' }))),
    /printed kind "Secret", not an ExecCredential/,
  );
  await fails(
    exec(plugin(printing(credential({ token: TOKEN }, 'client.authentication.k8s.io/v1beta1')))),
    /answered with apiVersion "client.authentication.k8s.io\/v1beta1"; the kubeconfig asks for client.authentication.k8s.io\/v1/,
  );
  await fails(exec(plugin(printing({ apiVersion: V1, kind: 'ExecCredential' }))), /without a status/);
  await fails(exec(plugin(printing(credential({})))), /neither a token nor a client certificate and key/);
  await fails(
    exec(plugin(printing(credential({ clientCertificateData: 'C' })))),
    /only one of clientCertificateData/,
  );
  await fails(
    exec(plugin(printing(credential({ token: TOKEN, expirationTimestamp: 'tomorrow' })))),
    /expirationTimestamp that is not an RFC 3339 time/,
  );
  await fails(
    exec(plugin(printing(credential({ token: TOKEN, expirationTimestamp: '2020-01-01T00:00:00Z' })))),
    /a credential that had already expired \(expirationTimestamp 2020-01-01T00:00:00Z\)/,
  );
});

test('a plugin that needs a terminal, hangs, or floods stdout is stopped with a reason', async () => {
  const script = plugin(printing(credential({ token: TOKEN })));
  await fails(exec(script, { interactiveMode: 'Always' }), /needs an interactive terminal/);
  assert.equal(runs(script), 0);
  await fails(exec(plugin('sleep 30')), /did not answer within 0.2 s and was killed/, { timeoutMs: 200 });
  await fails(exec(plugin('head -c 100000 /dev/zero')), /larger than allowed/, { maxOutputBytes: 1000 });
});
