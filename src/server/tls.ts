// The serving certificate, reloaded when its files change (cert-manager and kubelet rotate mounted
// secrets by swapping a symlinked directory, so the files are polled rather than inotify-watched: a
// watch on the old inode would miss the swap). A pair that does not load keeps the previous one.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Server } from 'node:https';
import { TLS_MIN_VERSION } from './app.ts';

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface KeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export function readKeyPair(files: CertificateFiles): KeyPair {
  const pair = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  // Throws when the key does not belong to the certificate or either does not parse.
  createSecureContext({ ...pair, minVersion: TLS_MIN_VERSION });
  return pair;
}

export interface ReloadEvents {
  reloaded?(): void;
  failed?(error: unknown): void;
}

/** Watches the pair and swaps the server's context on change; returns a function that stops watching. */
export function watchCertificate(
  server: Server,
  files: CertificateFiles,
  events: ReloadEvents = {},
  intervalMs = 1000,
): () => void {
  let last = '';
  try {
    last = fingerprint(readKeyPair(files));
  } catch {
    // The server started with this pair; a failure here is reported on the next change.
  }
  const check = (): void => {
    let pair: KeyPair;
    try {
      pair = readKeyPair(files);
    } catch (error) {
      events.failed?.(error);
      return;
    }
    const current = fingerprint(pair);
    if (current === last) return;
    last = current;
    server.setSecureContext({ ...pair, minVersion: TLS_MIN_VERSION });
    events.reloaded?.();
  };
  watchFile(files.certFile, { interval: intervalMs, persistent: false }, check);
  watchFile(files.keyFile, { interval: intervalMs, persistent: false }, check);
  return () => {
    unwatchFile(files.certFile, check);
    unwatchFile(files.keyFile, check);
  };
}

function fingerprint(pair: KeyPair): string {
  return `${pair.cert.toString('base64')}|${pair.key.length}`;
}
