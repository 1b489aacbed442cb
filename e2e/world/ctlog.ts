// A certificate transparency log (TesseraCT posix, static-ct-api) so Fulcio certificates carry real
// SCTs: Fulcio submits each precertificate, TesseraCT returns a signed timestamp that Fulcio embeds,
// and verifiers check it against the CT log key in the trusted root.
//
// Two steps, because each side needs the other first: Fulcio must be started with the log's URL (and
// key, to check the SCTs it receives), and TesseraCT must be started with Fulcio's root, the only root
// it accepts chains to. Fulcio dials the log only when it issues a certificate, so: `planCtLog` (URL,
// port and key), start Fulcio, then `plan.start(fulcio's chain)`.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorldError } from './errors.ts';
import { freePort, loopback } from './ports.ts';
import { startService } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { goTool } from './tools.ts';

export interface CtLogOptions {
  /** The port on 127.0.0.1; a free one by default. */
  port?: number;
  /**
   * How often a grown log publishes a checkpoint. Every submission waits for the checkpoint that covers
   * it (the publication awaiter), so this is added to each certificate Fulcio issues. 200 ms by default.
   */
  checkpointIntervalMs?: number;
  readyTimeoutMs?: number;
}

/** What is known of the log before it runs: enough for Fulcio's flags and the trusted root. */
export interface CtLogPlan {
  /** `http://127.0.0.1:<port>`: Fulcio's `--ct-log-url` and the trusted root's ctlog `baseUrl`. */
  readonly url: string;
  /**
   * The log's origin, the name in its checkpoints: `127.0.0.1`. TesseraCT wants the submission prefix
   * without scheme, and compares it with the request's host without the port (a `host:port` origin
   * does not even parse as a URL path there).
   */
  readonly origin: string;
  /** ECDSA P-256 public key, PEM SPKI (for Fulcio's `--ct-log-public-key-path`). */
  readonly publicKeyPem: string;
  readonly publicKeyFile: string;
  /** DER SPKI: the trusted root's `publicKey.rawBytes`. */
  readonly publicKeyDer: Buffer;
  /** The RFC 6962 log ID, SHA-256 of the DER SPKI: the trusted root's `logId.keyId`. */
  readonly logId: Buffer;
  /** Starts TesseraCT accepting chains to these roots (PEM certificates; a chain's last one is its root). */
  start(rootsPem: readonly string[]): Promise<CtLog>;
}

export interface CtLog extends Omit<CtLogPlan, 'start'> {
  readonly startedAt: Date;
  readonly logFile: string;
  stop(): Promise<void>;
}

export async function planCtLog(runDir: RunDir, options: CtLogOptions = {}): Promise<CtLogPlan> {
  const binary = goTool('tesseract');
  const dir = runDir.sub('ctlog');
  const port = options.port ?? (await freePort());
  const url = `http://${loopback}:${port}`;
  const origin = loopback;

  // TesseraCT reads only SEC 1 ("EC PRIVATE KEY") PEM.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateKeyFile = path.join(dir, 'ctlog.key');
  writeFileSync(privateKeyFile, privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const publicKeyDer = publicKey.export({ type: 'spki', format: 'der' });
  const publicKeyFile = path.join(dir, 'ctlog.pub');
  writeFileSync(publicKeyFile, publicKeyPem);
  const logId = createHash('sha256').update(publicKeyDer).digest();
  const known = { url, origin, publicKeyPem, publicKeyFile, publicKeyDer, logId };

  let started = false;
  const start = async (rootsPem: readonly string[]): Promise<CtLog> => {
    if (started) throw new WorldError('CTLOG_STARTED', `the CT log at ${url} was already started`);
    started = true;
    if (rootsPem.length === 0)
      throw new WorldError('CTLOG_NO_ROOTS', 'the CT log needs at least one root certificate');
    const rootsFile = path.join(dir, 'roots.pem');
    writeFileSync(rootsFile, `${rootsPem.map((pem) => pem.trim()).join('\n')}\n`);
    const storageDir = path.join(dir, 'storage');
    mkdirSync(storageDir, { recursive: true });
    const startedAt = new Date();
    const service = await startService({
      name: 'tesseract',
      command: binary,
      args: [
        `--http_endpoint=${loopback}:${port}`,
        `--origin=${origin}`,
        `--storage_dir=${storageDir}`,
        `--private_key=${privateKeyFile}`,
        `--roots_pem_file=${rootsFile}`,
        // Fulcio's leaves are code-signing certificates; the default would accept only serverAuth.
        '--ext_key_usages=CodeSigning',
        `--checkpoint_interval=${options.checkpointIntervalMs ?? 200}ms`,
        '--batch_max_age=50ms',
      ],
      env: {
        // Its antispam store (BadgerDB) grows its heap freely otherwise; a test log holds a few entries.
        GOMEMLIMIT: '512MiB',
        // It always exports OpenTelemetry metrics (to https://localhost:4318 by default): send them to
        // the discard port, and only once an hour, so it never talks to whatever else listens there.
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://${loopback}:9/v1/metrics`,
        OTEL_METRIC_EXPORT_INTERVAL: '3600000',
      },
      cwd: dir,
      logDir: runDir.logs,
      // Ready once it serves the roots it was given (the submission handlers are up with them).
      ready: async () => {
        const response = await fetch(`${url}/ct/v1/get-roots`, { signal: AbortSignal.timeout(2000) });
        if (response.status !== 200) return false;
        const { certificates } = (await response.json()) as { certificates?: unknown[] };
        return Array.isArray(certificates) && certificates.length > 0;
      },
      readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
    });
    return { ...known, startedAt, logFile: service.logFile, stop: () => service.stop() };
  };
  return { ...known, start };
}

/** A CT log for a CA whose chain is already known (PEM, leaf-most first: its last block is the root). */
export async function startCtLog(
  runDir: RunDir,
  caChainPem: readonly string[],
  options: CtLogOptions = {},
): Promise<CtLog> {
  const root = caChainPem.at(-1);
  if (root === undefined) throw new WorldError('CTLOG_NO_ROOTS', 'startCtLog needs the CA chain');
  return (await planCtLog(runDir, options)).start([root]);
}
