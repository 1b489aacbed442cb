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

const openssl = (...args: string[]): void => {
  execFileSync('openssl', args, { stdio: 'ignore' });
};
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * A new P-256 key and a certificate for it signed by the CA that makeTestTls left in `caDir`, as
 * `<name>.key` and `<name>.pem` there, with the extensions of `extFile`.
 */
function issueByTestCa(
  caDir: string,
  name: string,
  commonName: string,
  extFile: string,
): { certFile: string; keyFile: string } {
  const file = (suffix: string): string => path.join(caDir, `${name}.${suffix}`);
  openssl('req', ...EC_KEY, '-keyout', file('key'), '-out', file('csr'), '-subj', `/CN=${commonName}`);
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
    extFile,
  );
  return { certFile: file('pem'), keyFile: file('key') };
}

export function makeTestTls(dir: string): TestTls {
  const file = (name: string): string => path.join(dir, name);
  openssl(
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=sigward-test-ca',
  );
  writeFileSync(
    file('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  return { caPem: readFileSync(file('ca.pem'), 'utf8'), ...makeServerCertificate(dir, 'server') };
}

/** Another server certificate for 127.0.0.1 / localhost from the CA that makeTestTls left in `caDir`. */
export function makeServerCertificate(caDir: string, name: string): { certFile: string; keyFile: string } {
  return issueByTestCa(caDir, name, '127.0.0.1', path.join(caDir, 'server.ext'));
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
  const extFile = path.join(caDir, `${name}.ext`);
  // Alternative names in a section of their own, so a value may hold a comma.
  const altNames = (subject.altNames ?? []).map(
    (n, i) => `${n.slice(0, n.indexOf(':'))}.${i + 1} = ${n.slice(n.indexOf(':') + 1)}`,
  );
  writeFileSync(
    extFile,
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature',
      'extendedKeyUsage=clientAuth',
      ...(altNames.length === 0 ? [] : ['subjectAltName=@alt', '[alt]', ...altNames]),
      '',
    ].join('\n'),
  );
  const issued = issueByTestCa(caDir, name, subject.commonName, extFile);
  return { cert: readFileSync(issued.certFile, 'utf8'), key: readFileSync(issued.keyFile, 'utf8') };
}
