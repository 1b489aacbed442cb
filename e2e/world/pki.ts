// Certificates and keys of the test world, made with Debian's `openssl` CLI (node:crypto cannot issue
// X.509 certificates). Every call writes its own tiny openssl config, so the result never depends on
// the machine's /etc/ssl/openssl.cnf. Keys are ECDSA P-256 except the service-account signing key.
import { execFile } from 'node:child_process';
import { generateKeyPair, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorldError } from './errors.ts';
import { debianTool } from './tools.ts';

const run = promisify(execFile);
const validDays = 7;

export interface CertificateAuthority {
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA certificate, PEM: what goes into a `caBundle`, `SSL_CERT_FILE` or a kubeconfig. */
  readonly certPem: string;
}

export interface IssuedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface SigningKeyPair {
  /** PKCS#8 PEM. */
  readonly privateKeyFile: string;
  /** SPKI PEM. */
  readonly publicKeyFile: string;
}

interface Subject {
  commonName: string;
  organizations?: readonly string[];
}

/** A `[dn]` section: values go through the config file, so `/`, `=` or `+` in a name need no escaping. */
function distinguishedName(subject: Subject): string {
  const safe = (value: string): string => {
    if (/[\n\r]/.test(value) || value.length === 0)
      throw new WorldError('PKI_BAD_NAME', `invalid certificate name ${JSON.stringify(value)}`);
    return value.replace(/\$/g, '\\$');
  };
  const lines = (subject.organizations ?? []).map((o, i) => `${i}.O = ${safe(o)}`);
  lines.push(`CN = ${safe(subject.commonName)}`);
  return lines.join('\n');
}

function requestConfig(subject: Subject, extensions: readonly string[]): string {
  return [
    '[req]',
    'prompt = no',
    'distinguished_name = dn',
    'x509_extensions = ext',
    '[dn]',
    distinguishedName(subject),
    '[ext]',
    ...extensions,
    '',
  ].join('\n');
}

async function openssl(args: readonly string[], what: string): Promise<void> {
  const binary = debianTool('openssl', 'openssl');
  try {
    await run(binary, args, { env: { ...process.env, OPENSSL_CONF: '/dev/null' } });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    const firstLine = stderr.split('\n').find((line) => line.trim() !== '') ?? String(error);
    throw new WorldError('PKI_OPENSSL', `openssl failed to ${what}: ${firstLine}`, { cause: error });
  }
}

/** A positive 127-bit serial, so two certificates of one CA never share a serial. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return `0x${bytes.toString('hex')}`;
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A self-signed CA, written as `<dir>/<name>.crt` and `<dir>/<name>.key`. */
export async function createCa(dir: string, name: string, commonName = `sigward-e2e ${name}`) {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const configFile = path.join(dir, `${name}.cnf`);
  await writeFile(
    configFile,
    requestConfig({ commonName }, [
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
      'subjectKeyIdentifier = hash',
    ]),
  );
  await openssl(
    ['req', '-x509', ...ecKey, '-keyout', keyFile, '-out', certFile, '-days', String(validDays)].concat([
      '-set_serial',
      serial(),
      '-config',
      configFile,
    ]),
    `create the ${name} CA`,
  );
  const ca: CertificateAuthority = { certFile, keyFile, certPem: await readFile(certFile, 'utf8') };
  return ca;
}

async function issue(
  ca: CertificateAuthority,
  dir: string,
  name: string,
  subject: Subject,
  extensions: readonly string[],
): Promise<IssuedCertificate> {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const csrFile = path.join(dir, `${name}.csr`);
  const configFile = path.join(dir, `${name}.cnf`);
  await writeFile(
    configFile,
    requestConfig(subject, [
      'basicConstraints = critical, CA:FALSE',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      ...extensions,
    ]),
  );
  await openssl(
    ['req', '-new', ...ecKey, '-keyout', keyFile, '-out', csrFile, '-config', configFile],
    `make the key and request of ${name}`,
  );
  await openssl(
    ['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-out', certFile]
      .concat(['-days', String(validDays), '-set_serial', serial()])
      .concat(['-extfile', configFile, '-extensions', 'ext']),
    `sign the certificate of ${name}`,
  );
  const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certFile, keyFile, certPem, keyPem };
}

/**
 * A TLS server certificate from `ca` for the given hosts (IP addresses or DNS names; the first is also
 * the common name). Go clients such as kube-apiserver ignore the common name, so every host a client
 * dials must be here: `127.0.0.1` for a loopback URL such as a webhook's `clientConfig.url`.
 */
export function issueServingCert(
  ca: CertificateAuthority,
  dir: string,
  name: string,
  hosts: readonly string[] = ['127.0.0.1', 'localhost'],
): Promise<IssuedCertificate> {
  const [first] = hosts;
  if (first === undefined) throw new WorldError('PKI_BAD_NAME', `serving certificate ${name} needs a host`);
  const altNames = hosts.map((host) => (net.isIP(host) ? `IP:${host}` : `DNS:${host}`)).join(', ');
  return issue(ca, dir, name, { commonName: first }, [
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    `subjectAltName = ${altNames}`,
  ]);
}

/** A TLS client certificate: Kubernetes reads the common name as the user and each O as a group. */
export function issueClientCert(
  ca: CertificateAuthority,
  dir: string,
  name: string,
  user: string,
  groups: readonly string[] = [],
): Promise<IssuedCertificate> {
  return issue(ca, dir, name, { commonName: user, organizations: groups }, [
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = clientAuth',
  ]);
}

/**
 * An RSA key pair for signing JWTs. RSA rather than ECDSA because RS256 is the one algorithm every
 * OIDC verifier accepts without configuration (Fulcio's go-oidc among them).
 */
export async function createSigningKeyPair(dir: string, name: string): Promise<SigningKeyPair> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const privateKeyFile = path.join(dir, `${name}.key`);
  const publicKeyFile = path.join(dir, `${name}.pub`);
  await Promise.all([
    writeFile(privateKeyFile, privateKey, { mode: 0o600 }),
    writeFile(publicKeyFile, publicKey),
  ]);
  return { privateKeyFile, publicKeyFile };
}
