// The world's PKI: a serving certificate from our CA is trusted for exactly the hosts it names, and a
// client certificate carries the user and groups Kubernetes reads from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, createSigningKeyPair, issueClientCert, issueServingCert } from '../../e2e/world/pki.ts';
import { createRunDir } from '../../e2e/world/run-dir.ts';

function get(url: string, options: https.RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, options, (res) => {
        res.setEncoding('utf8');
        let body = '';
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

test('a serving certificate for 127.0.0.1 is trusted through its CA, and only for its hosts', async (t) => {
  const dir = createRunDir('sigward-pki-');
  t.after(() => dir.remove());
  const ca = await createCa(dir.root, 'webhook-ca');
  const serving = await issueServingCert(ca, dir.root, 'webhook', ['127.0.0.1']);

  const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (_, res) =>
    res.end('ok'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;

  assert.equal(await get(`https://127.0.0.1:${port}/`, { ca: ca.certPem }), 'ok');
  // `localhost` is not in this certificate: a client that dials it must refuse.
  await assert.rejects(get(`https://127.0.0.1:${port}/`, { ca: ca.certPem, servername: 'localhost' }), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
  });
  // Another CA's certificate is not trusted.
  const stranger = await createCa(dir.root, 'stranger-ca');
  await assert.rejects(get(`https://127.0.0.1:${port}/`, { ca: stranger.certPem }), {
    code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  });
});

test('a client certificate names the user and the groups; CA and leaf are what they claim', async (t) => {
  const dir = createRunDir('sigward-pki-');
  t.after(() => dir.remove());
  const ca = await createCa(dir.root, 'client-ca');
  const admin = await issueClientCert(ca, dir.root, 'admin', 'admin', ['system:masters', 'team/a+b=c']);
  const cert = new X509Certificate(admin.certPem);
  const caCert = new X509Certificate(ca.certPem);

  assert.equal(cert.subject, 'O=system:masters\nO=team/a\\+b=c\nCN=admin');
  assert.ok(cert.checkIssued(caCert) && cert.verify(caCert.publicKey));
  assert.equal(cert.ca, false);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']); // clientAuth
  assert.equal(caCert.ca, true);

  const pair = await createSigningKeyPair(dir.root, 'service-account');
  assert.match(pair.privateKeyFile, /service-account\.key$/);
  assert.match(pair.publicKeyFile, /service-account\.pub$/);
});
