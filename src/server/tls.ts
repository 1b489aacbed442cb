// The serving certificate and the client CA bundle, reloaded when their files change (cert-manager and
// kubelet rotate mounted Secrets and ConfigMaps by swapping a symlinked directory, so the files are
// polled rather than inotify-watched: a watch on the old inode would miss the swap). Material that does
// not load keeps the previous one.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { SecureContextOptions } from 'node:tls';
import { TLS_MIN_VERSION } from './app.ts';
import { readClientCaBundle } from './client-auth.ts';

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface KeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The serving pair, and the bundle client certificates must chain to (when callers are authenticated). */
export interface ServingMaterial extends KeyPair {
  readonly clientCa?: Buffer;
}

export function readKeyPair(files: CertificateFiles): KeyPair {
  const pair = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  // Throws when the key does not belong to the certificate or either does not parse.
  createSecureContext(contextOptions(pair));
  return pair;
}

/** The pair from its files, and the client CA bundle from its file when one is named. */
export function readServingMaterial(files: CertificateFiles, clientCaFile?: string): ServingMaterial {
  const pair = readKeyPair(files);
  if (clientCaFile === undefined) return pair;
  const material = { ...pair, clientCa: readClientCaBundle(clientCaFile) };
  createSecureContext(contextOptions(material));
  return material;
}

/**
 * The TLS context of a listener: TLS 1.2 at least; with a client CA, only that bundle is trusted for
 * client certificates (the system roots are not). OpenSSL builds the chain up to a self-signed root in
 * the bundle: an intermediate alone is not enough (Go's pools, and so kube-apiserver's
 * --client-ca-file, accept one; Node's server contexts cannot be told to).
 */
export function contextOptions(material: ServingMaterial): SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    minVersion: TLS_MIN_VERSION,
    ...(material.clientCa === undefined ? {} : { ca: material.clientCa }),
  };
}

export interface ReloadEvents {
  reloaded?(): void;
  failed?(error: unknown): void;
}

/**
 * Watches the serving pair (and the client CA bundle, when named) and hands changed material to
 * `apply`; returns a function that stops watching.
 */
export function watchServingFiles(
  files: CertificateFiles,
  clientCaFile: string | undefined,
  apply: (material: ServingMaterial) => void,
  events: ReloadEvents = {},
  intervalMs = 1000,
): () => void {
  let last = '';
  try {
    last = fingerprint(readServingMaterial(files, clientCaFile));
  } catch {
    // The server started with this material; a failure here is reported on the next change.
  }
  const check = (): void => {
    let material: ServingMaterial;
    try {
      material = readServingMaterial(files, clientCaFile);
    } catch (error) {
      events.failed?.(error);
      return;
    }
    const current = fingerprint(material);
    if (current === last) return;
    last = current;
    apply(material);
    events.reloaded?.();
  };
  const watched = [files.certFile, files.keyFile, ...(clientCaFile === undefined ? [] : [clientCaFile])];
  for (const file of watched) watchFile(file, { interval: intervalMs, persistent: false }, check);
  return () => {
    for (const file of watched) unwatchFile(file, check);
  };
}

function fingerprint(material: ServingMaterial): string {
  return `${material.cert.toString('base64')}|${material.key.length}|${material.clientCa?.toString('base64') ?? ''}`;
}
