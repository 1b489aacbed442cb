// The certificate authority Fulcio signs with: a root and an intermediate made by openssl, so the chain
// is known before Fulcio starts and goes into the trusted root as files, not as whatever a running
// server says. Fulcio's `fileca` wants the chain leaf-most first and the intermediate's key encrypted.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorldError } from './errors.ts';
import { debianTool } from './tools.ts';

const run = promisify(execFile);

export interface FulcioCa {
  /** PEM file: intermediate, then root (what `--fileca-cert` reads). */
  chainPath: string;
  /** PEM file of the intermediate's key, PKCS#8 encrypted with `password`. */
  keyPath: string;
  password: string;
  /** The chain as PEM blocks, leaf-most first: [intermediate, root]. */
  chainPem: string[];
}

// Extensions as Fulcio's own `createca` makes them: the root signs only CAs; the intermediate signs
// leaves and carries codeSigning, which Fulcio requires of an intermediate (pkg/ca/common.go).
// One file serves `req` (which in OpenSSL 3.0 reads extensions only from its -config) and `x509 -req`.
const opensslConfig = `
[req]
distinguished_name = dn
prompt = no
[dn]

[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run(debianTool('openssl', 'openssl'), args, { cwd });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new WorldError('CA_CREATE', `openssl ${args[0]} failed: ${stderr.trim() || String(error)}`, {
      cause: error,
    });
  }
}

export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Makes a fresh root and intermediate (ECDSA P-384, ten years) in `dir`. */
export async function createFulcioCa(dir: string): Promise<FulcioCa> {
  writeFileSync(path.join(dir, 'ca.cnf'), opensslConfig);
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes'];
  await openssl(
    [
      'req',
      '-config',
      'ca.cnf',
      '-x509',
      ...curve,
      '-keyout',
      'root.key',
      '-out',
      'root.pem',
      '-days',
      '3650',
      '-subj',
      '/O=sigward-e2e/CN=sigward e2e fulcio root',
      '-extensions',
      'root',
    ],
    dir,
  );
  await openssl(
    [
      'req',
      '-config',
      'ca.cnf',
      '-new',
      ...curve,
      '-keyout',
      'intermediate.key',
      '-out',
      'intermediate.csr',
      '-subj',
      '/O=sigward-e2e/CN=sigward e2e fulcio intermediate',
    ],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'intermediate.csr',
      '-CA',
      'root.pem',
      '-CAkey',
      'root.key',
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '3650',
      '-sha384',
      '-extfile',
      'ca.cnf',
      '-extensions',
      'intermediate',
      '-out',
      'intermediate.pem',
    ],
    dir,
  );
  const password = randomBytes(18).toString('base64url');
  await openssl(
    [
      'pkcs8',
      '-topk8',
      '-v2',
      'aes-256-cbc',
      '-in',
      'intermediate.key',
      '-out',
      'intermediate.enc.key',
      '-passout',
      `pass:${password}`,
    ],
    dir,
  );
  const chainPem = [
    readFileSync(path.join(dir, 'intermediate.pem'), 'utf8').trim(),
    readFileSync(path.join(dir, 'root.pem'), 'utf8').trim(),
  ];
  const chainPath = path.join(dir, 'chain.pem');
  writeFileSync(chainPath, `${chainPem.join('\n')}\n`);
  return { chainPath, keyPath: path.join(dir, 'intermediate.enc.key'), password, chainPem };
}
