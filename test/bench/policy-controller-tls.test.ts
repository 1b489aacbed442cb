// The bench's agent for policy-controller: knative (Go) makes the serving certificate with its CA's own
// subject and no subject key identifier, which OpenSSL (Node) refuses as self-signed; the agent checks
// such a certificate itself and must still refuse one of another CA, or one that does not name the server.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { webhookAgent } from '../../bench/policy-controller-tls.ts';

const NAME = 'webhook.cosign-system.svc';
const SUBJECT = `/O=knative.dev/CN=${NAME}`;

describe('webhookAgent (a knative serving certificate, checked by the bench itself)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sigward-bench-tls-'));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string) =>
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.pem`),
      '-days',
      '2',
      '-subj',
      SUBJECT,
    );
  let server: https.Server;
  let url: string;

  before(async () => {
    ca('ca');
    ca('other-ca');
    // The leaf has the CA's subject and no subject key identifier, as knative's
    // webhook/certificates/resources makes it with Go's x509 (which sets none on a leaf).
    openssl('req', ...ec, '-keyout', file('leaf.key'), '-out', file('leaf.csr'), '-subj', SUBJECT);
    writeFileSync(
      file('leaf.ext'),
      `subjectAltName=DNS:${NAME}\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=none\nauthorityKeyIdentifier=keyid\n`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      file('leaf.csr'),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file('leaf.pem'),
      '-days',
      '1',
      '-extfile',
      file('leaf.ext'),
    );
    server = https.createServer(
      { cert: readFileSync(file('leaf.pem')), key: readFileSync(file('leaf.key')) },
      (_q, s) => s.end('{"allowed":true}'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (agent: https.Agent) =>
    new Promise<string>((resolve, reject) => {
      https
        .get(url, { agent }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    }).finally(() => agent.destroy());
  const caPem = () => readFileSync(file('ca.pem'), 'utf8');

  it('Node alone refuses the certificate as self-signed (why the agent checks it itself)', async () => {
    await assert.rejects(get(new https.Agent({ ca: caPem(), servername: NAME })), /self-signed/);
  });

  it('accepts it when signed by the CA and naming the server', async () => {
    assert.equal(await get(webhookAgent(caPem(), NAME, 1)), '{"allowed":true}');
  });

  it('refuses a certificate of another CA with the same subject', async () => {
    await assert.rejects(
      get(webhookAgent(readFileSync(file('other-ca.pem'), 'utf8'), NAME, 1)),
      /not signed by the webhook's CA/,
    );
  });

  it('refuses a certificate that does not name the server', async () => {
    await assert.rejects(
      get(webhookAgent(caPem(), 'other.cosign-system.svc', 1)),
      /does not name other\.cosign-system\.svc/,
    );
  });
});
