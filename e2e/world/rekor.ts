// Rekor v2 (rekor-tiles v2.3.0, POSIX storage) on loopback, signing checkpoints with an Ed25519 key we
// generate, like the public-good Rekor v2 logs.
//
// Two names must agree for verifiers to accept an inclusion proof:
// - the checkpoint origin is `--hostname`; sigstore-go verifies checkpoints under the *hostname* of the
//   trusted root's `baseUrl` and sigstore-js requires `baseUrl` to contain the signer name, so the
//   origin is the host part of the URL (127.0.0.1, without the port);
// - the log ID in entries and the checkpoint key ID are sha256(origin "\n" 0x01 raw-key) for Ed25519
//   (C2SP signed-note; rekor-tiles pkg/note KeyHash), which is what the trusted root must list.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, loopback } from './ports.ts';
import { answers } from './probe.ts';
import { startService, type Service } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { goTool } from './tools.ts';

export interface Rekor {
  url: string;
  /** Checkpoint origin (`--hostname`). */
  origin: string;
  /** DER SubjectPublicKeyInfo of the checkpoint key. */
  publicKeyDer: Buffer;
  /** Log ID = checkpoint key ID (32 bytes): sha256(origin "\n" 0x01 raw Ed25519 key). */
  logId: Buffer;
  storageDir: string;
  service: Service;
  stop(): Promise<void>;
}

const ed25519SignatureType = 0x01;

/** C2SP signed-note key hash of an Ed25519 key under a name; its first 4 bytes are the note key hint. */
export function ed25519NoteKeyId(origin: string, publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const raw = spki.subarray(spki.length - 32);
  return createHash('sha256')
    .update(`${origin}\n`)
    .update(Buffer.from([ed25519SignatureType]))
    .update(raw)
    .digest();
}

export async function startRekor(runDir: RunDir): Promise<Rekor> {
  const binary = goTool('rekor-server-v2');
  const dir = runDir.sub('rekor');
  const storageDir = runDir.sub('rekor/tiles');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyPath = path.join(dir, 'signer.pem');
  writeFileSync(keyPath, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });

  const origin = loopback;
  const [httpPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const url = `http://${loopback}:${httpPort}`;
  const service = await startService({
    name: 'rekor-v2',
    command: binary,
    args: [
      'serve',
      `--http-address=${loopback}`,
      `--http-port=${httpPort}`,
      `--grpc-address=${loopback}`,
      `--grpc-port=${grpcPort}`,
      `--http-metrics-port=${metricsPort}`,
      `--hostname=${origin}`,
      `--storage-dir=${storageDir}`,
      `--signer-filepath=${keyPath}`,
      // An entry's response waits for the next checkpoint: keep signing fast.
      '--checkpoint-interval=500ms',
      '--batch-max-age=50ms',
    ],
    cwd: dir,
    logDir: runDir.logs,
    ready: () => answers(`${url}/healthz`),
  });
  return {
    url,
    origin,
    publicKeyDer: publicKey.export({ format: 'der', type: 'spki' }),
    logId: ed25519NoteKeyId(origin, publicKey),
    storageDir,
    service,
    stop: () => service.stop(),
  };
}
