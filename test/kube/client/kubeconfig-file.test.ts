// Reading kubeconfig files as kubectl does (kube/client/kubeconfig-file.ts): every refusal names the
// file and the entry, relative file references resolve against the kubeconfig's directory, $KUBECONFIG
// merges with the first file winning, and a legacy auth-provider is refused with what to use instead.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { stringify } from 'yaml';
import { SigwardError } from '../../../src/errors.ts';
import { kubeconfigFiles, loadKubeconfigFiles } from '../../../src/kube/client/kubeconfig-file.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'sigward-kubeconfig-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: unknown, name = `config-${++n}`): string {
  const at = path.join(dir, name);
  writeFileSync(at, typeof content === 'string' ? content : stringify(content));
  return at;
}

const config = (user: Record<string, unknown> = { token: 'secret-token-value-1234' }, extra = {}) => ({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
  users: [{ name: 'u', user }],
  contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', namespace: 'apps' } }],
  'current-context': 'ctx',
  ...extra,
});

function refused(files: string[], pattern: RegExp): void {
  assert.throws(
    () => loadKubeconfigFiles(files),
    (e: unknown) => e instanceof SigwardError && e.code === 'KUBE_CONFIG_INVALID' && pattern.test(e.message),
  );
}

test('the current context gives the server, namespace and a bearer token', async () => {
  const connection = loadKubeconfigFiles([file(config())]);
  assert.equal(connection.server, 'https://127.0.0.1:6443');
  assert.equal(connection.namespace, 'apps');
  assert.deepEqual((await connection.auth.current()).headers, {
    authorization: 'Bearer secret-token-value-1234',
  });
});

test('a missing file, a file that is not YAML or not a mapping is refused naming the file', () => {
  refused([path.join(dir, 'nope')], /kubeconfig .*nope could not be read \(ENOENT\)/);
  refused([file('clusters: [unclosed')], /is not valid YAML/);
  refused([file('- a list')], /is not a kubeconfig/);
});

test('no current-context, or one naming nothing, is refused', () => {
  refused([file(config(undefined, { 'current-context': undefined }))], /has no current-context/);
  refused(
    [file(config(undefined, { 'current-context': 'other' }))],
    /current-context "other" is not among its contexts/,
  );
});

test('a context naming a missing cluster or user, or a cluster without a server, is refused', () => {
  refused(
    [file({ ...config(), contexts: [{ name: 'ctx', context: { cluster: 'gone', user: 'u' } }] })],
    /context "ctx" names the cluster "gone", which is not defined/,
  );
  refused(
    [file({ ...config(), contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'ghost' } }] })],
    /context "ctx" names the user "ghost", which is not defined/,
  );
  refused([file({ ...config(), clusters: [{ name: 'c', cluster: {} }] })], /cluster "c" has no server/);
  refused(
    [file({ ...config(), clusters: [{ name: 'c', cluster: { server: 'ftp://x' } }] })],
    /neither https nor http/,
  );
  // A server with credentials written into it is named without them.
  assert.throws(
    () =>
      loadKubeconfigFiles([
        file({ ...config(), clusters: [{ name: 'c', cluster: { server: 'ftp://admin:kube-pw-123@x' } }] }),
      ]),
    (e: Error) =>
      /server ftp:\/\/\[redacted\]@x is neither/.test(e.message) && !e.message.includes('kube-pw'),
  );
  refused(
    [
      file({
        ...config(),
        clusters: [{ name: 'c', cluster: { server: 'https://x', 'proxy-url': 'http://p' } }],
      }),
    ],
    /proxy-url, which sigward does not support/,
  );
});

test('a legacy auth-provider is refused naming the user entry and pointing to exec plugins', () => {
  refused(
    [file(config({ 'auth-provider': { name: 'gcp', config: { 'access-token': 'ya29.secret' } } }))],
    /user "u" uses the auth-provider "gcp", which kubectl and sigward no longer support: use an exec credential plugin/,
  );
});

test('two ways to authenticate at once, or half a client certificate, are refused', () => {
  refused(
    [file(config({ token: 't', exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x' } }))],
    /user "u" sets more than one way to authenticate \(token, exec\)/,
  );
  refused([file(config({ 'client-certificate-data': 'AAAA' }))], /client certificate without its key/);
});

test('an exec entry is checked: command, a supported apiVersion, args and env', () => {
  refused(
    [file(config({ exec: { apiVersion: 'client.authentication.k8s.io/v1' } }))],
    /exec entry without a command/,
  );
  refused(
    [file(config({ exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' } }))],
    /exec apiVersion "client.authentication.k8s.io\/v1alpha1" is not supported/,
  );
  refused(
    [file(config({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x', args: 'a' } }))],
    /exec args is not a list of strings/,
  );
  refused(
    [
      file(
        config({
          exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x', env: [{ name: 'A' }] },
        }),
      ),
    ],
    /exec env is not a list of \{name, value\}/,
  );
});

test('file references are relative to the kubeconfig; an unreadable one names the field and path', async () => {
  const sub = path.join(dir, 'nested');
  await import('node:fs/promises').then((fs) => fs.mkdir(sub, { recursive: true }));
  writeFileSync(path.join(sub, 'ca.pem'), 'CA PEM');
  writeFileSync(path.join(sub, 'token'), 'file-token-value\n');
  const at = path.join(sub, 'config');
  writeFileSync(
    at,
    stringify({
      ...config({ tokenFile: 'token' }),
      clusters: [
        { name: 'c', cluster: { server: 'https://k:6443/prefix/', 'certificate-authority': 'ca.pem' } },
      ],
    }),
  );
  const connection = loadKubeconfigFiles([at]);
  assert.equal(connection.ca, 'CA PEM');
  assert.equal(connection.server, 'https://k:6443/prefix');
  assert.equal((await connection.auth.current()).headers['authorization'], 'Bearer file-token-value');
  const legacy = loadKubeconfigFiles([file(config({ 'token-file': path.join(sub, 'token') }))]);
  assert.equal((await legacy.auth.current()).headers['authorization'], 'Bearer file-token-value');
  refused(
    [
      file({
        ...config(),
        clusters: [{ name: 'c', cluster: { server: 'https://k', 'certificate-authority': 'gone.pem' } }],
      }),
    ],
    /cluster "c" certificate-authority .*gone\.pem could not be read \(ENOENT\)/,
  );
});

test('username and password become basic auth; as and as-groups impersonate', async () => {
  const connection = loadKubeconfigFiles([
    file(config({ username: 'ann', password: 'pw', as: 'bob', 'as-groups': ['g1', 'g2'] })),
  ]);
  assert.deepEqual((await connection.auth.current()).headers, {
    authorization: `Basic ${Buffer.from('ann:pw').toString('base64')}`,
    'impersonate-user': 'bob',
    'impersonate-group': 'g1,g2',
  });
});

test('an exec user: the plugin token beside the impersonation headers, the kubeconfig certificate kept', async () => {
  const plugin = path.join(dir, 'token-plugin.sh');
  writeFileSync(
    plugin,
    `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin"}}'\n`,
  );
  chmodSync(plugin, 0o755);
  const connection = loadKubeconfigFiles([
    file(
      config({
        as: 'bob',
        'client-certificate-data': Buffer.from('CERT').toString('base64'),
        'client-key-data': Buffer.from('KEY').toString('base64'),
        exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin },
      }),
    ),
  ]);
  assert.deepEqual(await connection.auth.current(), {
    headers: { 'impersonate-user': 'bob', authorization: 'Bearer from-plugin' },
    cert: 'CERT',
    key: 'KEY',
  });
});

test('$KUBECONFIG: missing files skipped, the first file to set a name or current-context wins', async () => {
  const first = file({
    clusters: [{ name: 'c', cluster: { server: 'https://first:6443' } }],
    'current-context': 'ctx',
  });
  const second = file({
    ...config(),
    clusters: [{ name: 'c', cluster: { server: 'https://second:6443' } }],
    'current-context': 'other',
  });
  const files = kubeconfigFiles(undefined, {
    KUBECONFIG: [first, path.join(dir, 'missing'), second].join(':'),
  });
  assert.deepEqual(files, [first, second]);
  const connection = loadKubeconfigFiles(files);
  assert.equal(connection.server, 'https://first:6443');
  assert.match(connection.source, /\(context ctx\)$/);
  assert.deepEqual(kubeconfigFiles(undefined, { HOME: path.join(dir, 'no-home') }), []);
  assert.throws(() => loadKubeconfigFiles([]), /no kubeconfig found/);
});
