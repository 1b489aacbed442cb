// A throwaway CA and a server certificate for 127.0.0.1 / localhost, made with openssl, for tests of
// registries served over TLS (the client trusts the CA through its `ca` option).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestTls {
  readonly caPem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export function makeTestTls(dir: string): TestTls {
  const file = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=sigward-test-ca',
  );
  openssl('req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(
    file('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.pem'),
    '-days',
    '2',
    '-extfile',
    file('server.ext'),
  );
  return {
    caPem: readFileSync(file('ca.pem'), 'utf8'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
  };
}

export interface TestClientCertificate {
  readonly cert: string;
  readonly key: string;
}

/**
 * A TLS client certificate (extendedKeyUsage clientAuth) signed by the CA that makeTestTls left in
 * `caDir`, with this subject CN and, optionally, subject alternative names (`DNS:…`, `URI:…`).
 */
export function makeClientCertificate(
  caDir: string,
  name: string,
  subject: { commonName: string; altNames?: readonly string[] },
): TestClientCertificate {
  const file = (suffix: string): string => path.join(caDir, `${name}.${suffix}`);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', ...ec, '-keyout', file('key'), '-out', file('csr'), '-subj', `/CN=${subject.commonName}`);
  // Alternative names in a section of their own, so a value may hold a comma.
  const altNames = (subject.altNames ?? []).map(
    (n, i) => `${n.slice(0, n.indexOf(':'))}.${i + 1} = ${n.slice(n.indexOf(':') + 1)}`,
  );
  writeFileSync(
    file('ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature',
      'extendedKeyUsage=clientAuth',
      ...(altNames.length === 0 ? [] : ['subjectAltName=@alt', '[alt]', ...altNames]),
      '',
    ].join('\n'),
  );
  openssl(
    'x509',
    '-req',
    '-in',
    file('csr'),
    '-CA',
    path.join(caDir, 'ca.pem'),
    '-CAkey',
    path.join(caDir, 'ca.key'),
    '-CAcreateserial',
    '-out',
    file('pem'),
    '-days',
    '2',
    '-extfile',
    file('ext'),
  );
  return { cert: readFileSync(file('pem'), 'utf8'), key: readFileSync(file('key'), 'utf8') };
}
