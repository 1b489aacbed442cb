// In-cluster settings (kube/client/in-cluster.ts) as client-go's rest.InClusterConfig reads them, and the
// mounted token re-read while in use (token-file.ts). The real apiserver with a real TokenRequest token
// is in e2e/kube-client.e2e.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { inCluster, inClusterConnection } from '../../../src/kube/client/in-cluster.ts';
import { tokenFileAuthenticator } from '../../../src/kube/client/token-file.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'sigward-sa-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(path.join(dir, 'token'), 'first-token\n');
writeFileSync(path.join(dir, 'ca.crt'), 'CA PEM');
writeFileSync(path.join(dir, 'namespace'), 'sigward');

test('host and port from the environment (IPv6 in brackets), CA and namespace from the mount', async () => {
  const env = { KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '443' };
  assert.equal(inCluster({ env, dir }), true);
  const connection = inClusterConnection({ env, dir });
  assert.equal(connection.server, 'https://[fd00:10:96::1]:443');
  assert.equal(connection.ca, 'CA PEM');
  assert.equal(connection.namespace, 'sigward');
  assert.equal((await connection.auth.current()).headers['authorization'], 'Bearer first-token');
  assert.equal(
    inClusterConnection({
      env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '6443' },
      dir,
    }).server,
    'https://10.96.0.1:6443',
  );
});

test('not in a cluster: no host, no port, or no mounted token; an unreadable CA is named', () => {
  assert.equal(inCluster({ env: {}, dir }), false);
  assert.equal(inCluster({ env: { KUBERNETES_SERVICE_HOST: 'h' }, dir: path.join(dir, 'none') }), false);
  assert.throws(
    () => inClusterConnection({ env: { KUBERNETES_SERVICE_HOST: 'h' }, dir }),
    /must both be set/,
  );
  const env = { KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '443' };
  assert.throws(
    () => inClusterConnection({ env, dir: path.join(dir, 'none') }),
    /no service-account token at/,
  );
  const noCa = mkdtempSync(path.join(tmpdir(), 'sigward-sa-noca-'));
  writeFileSync(path.join(noCa, 'token'), 't');
  try {
    assert.throws(() => inClusterConnection({ env, dir: noCa }), /CA .*ca\.crt could not be read \(ENOENT\)/);
  } finally {
    rmSync(noCa, { recursive: true, force: true });
  }
});

test('the token file is re-read once a minute old, and at once after a 401', async () => {
  const file = path.join(dir, 'rotating');
  writeFileSync(file, 'token-1');
  let now = 0;
  const auth = tokenFileAuthenticator(file, { now: () => now });
  const bearer = async () => (await auth.current()).headers['authorization'];
  assert.equal(await bearer(), 'Bearer token-1');
  writeFileSync(file, 'token-2');
  now = 59_999;
  assert.equal(await bearer(), 'Bearer token-1');
  now = 60_000;
  assert.equal(await bearer(), 'Bearer token-2');
  writeFileSync(file, 'token-3');
  auth.invalidate();
  assert.equal(await bearer(), 'Bearer token-3');
});

test('a token file that is missing or empty is an error naming it, and is tried again next time', async () => {
  const file = path.join(dir, 'later');
  const auth = tokenFileAuthenticator(file);
  await assert.rejects(auth.current(), /the token file .*later could not be read \(ENOENT\)/);
  writeFileSync(file, '  \n');
  await assert.rejects(auth.current(), /the token file .*later is empty/);
  writeFileSync(file, 'now-there');
  assert.equal((await auth.current()).headers['authorization'], 'Bearer now-there');
});
