// Rekor v1 (rekor-server v1.5.x), the transparency log that gives legacy cosign signatures their signed
// entry timestamp (SET): MariaDB -> Trillian log server + signer -> rekor-server, all on loopback. Its
// signing key is a file we generate, so the log's public key and log ID are known before it starts
// (and are checked against what it serves). The search index lives in MariaDB too: no Redis.
//
// Upstream limit: rekor-server v1.5.x always serves its metrics on :2112, every interface, no flag to
// move or disable it (cmd/rekor-server/app/serve.go). Nothing of ours talks to it; a second rekor-server
// on the machine just fails that listener quietly.
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorldError } from './errors.ts';
import { startMariaDb, type MariaDb } from './mariadb.ts';
import { freePort, loopback } from './ports.ts';
import { startService, type Service } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { goTool } from './tools.ts';
import { startTrillian, trillianSchemaFile, type Trillian } from './trillian.ts';

export interface RekorV1Options {
  /** rekor-server's port on 127.0.0.1; a free one by default. */
  port?: number;
  /**
   * `--rekor_server.hostname`, the name in its signed checkpoints. Defaults to `127.0.0.1:<port>`, a
   * substring of the URL, which is what verifiers match checkpoint names against (the default would be
   * the machine's hostname).
   */
  hostname?: string;
  readyTimeoutMs?: number;
}

export interface RekorV1 {
  /** `http://127.0.0.1:<port>`: for `cosign --rekor-url` and the trusted root's tlog `baseUrl`. */
  readonly url: string;
  readonly hostname: string;
  /** The log's public key (ECDSA P-256), PEM SPKI, as GET /api/v1/log/publicKey serves it. */
  readonly publicKeyPem: string;
  readonly publicKeyFile: string;
  /** DER SPKI of the same key: the trusted root's `publicKey.rawBytes`. */
  readonly publicKeyDer: Buffer;
  /** The log ID: SHA-256 of the DER SPKI (the trusted root's `logId.keyId`). */
  readonly logId: Buffer;
  /** The same, lowercase hex, as cosign's bundle annotation writes it. */
  readonly logIdHex: string;
  /** The Trillian tree that rekor-server made at start (decimal string, as the API reports it). */
  readonly treeId: string;
  /** When the log began: the trusted root's `validFor.start` must not be later than any entry. */
  readonly startedAt: Date;
  readonly db: MariaDb;
  readonly logFiles: readonly string[];
  /** Stops rekor-server, Trillian, then MariaDB. Safe to call twice. */
  stop(): Promise<void>;
}

const trillianDatabase = 'trillian';
const indexDatabase = 'rekor_index';

interface LogInfo {
  treeID?: unknown;
  treeSize?: unknown;
}

async function getText(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.text() };
}

/** Runs `start` with the pieces already running; if it throws, stops them (last first) and rethrows. */
async function stacked<T>(
  running: readonly { stop(): Promise<void> }[],
  start: () => Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (error) {
    for (const piece of [...running].reverse()) await piece.stop().catch(() => undefined);
    throw error;
  }
}

export async function startRekorV1(runDir: RunDir, options: RekorV1Options = {}): Promise<RekorV1> {
  // Every binary and the schema first: anything missing is one line before anything starts.
  const rekorBinary = goTool('rekor-server');
  goTool('trillian_log_server');
  goTool('trillian_log_signer');
  const schemaFile = trillianSchemaFile();

  const dir = runDir.sub('rekor-v1');
  const port = options.port ?? (await freePort());
  const url = `http://${loopback}:${port}`;
  const hostname = options.hostname ?? `${loopback}:${port}`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signerKeyFile = path.join(dir, 'signer.pem');
  writeFileSync(signerKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const publicKeyDer = publicKey.export({ type: 'spki', format: 'der' });
  const publicKeyFile = path.join(dir, 'rekor.pub');
  writeFileSync(publicKeyFile, publicKeyPem);
  const logId = createHash('sha256').update(publicKeyDer).digest();

  const startedAt = new Date();
  const db = await startMariaDb(runDir, {
    databases: [{ name: trillianDatabase, schemaFile }, { name: indexDatabase }],
    readyTimeoutMs,
  });
  const trillian: Trillian = await stacked([db], () =>
    startTrillian(runDir, db, { database: trillianDatabase, readyTimeoutMs }),
  );

  let treeId = '';
  const rekor: Service = await stacked([db, trillian], () =>
    startService({
      name: 'rekor-server',
      command: rekorBinary,
      args: [
        'serve',
        `--rekor_server.address=${loopback}`,
        `--port=${port}`,
        `--rekor_server.hostname=${hostname}`,
        `--rekor_server.signer=${signerKeyFile}`,
        `--trillian_log_server.address=${trillian.rpcHost}`,
        `--trillian_log_server.port=${trillian.rpcPort}`,
        // tlog_id 0: rekor-server creates and initialises its own Trillian tree at start.
        '--trillian_log_server.tlog_id=0',
        '--search_index.storage_provider=mysql',
        `--search_index.mysql.dsn=${db.dsn(indexDatabase)}`,
        '--enable_attestation_storage=false',
      ],
      // It reads ~/.rekor-server.yaml or ./rekor-server.yaml if one exists: a fresh HOME and working
      // directory keep the machine's out.
      env: { HOME: dir },
      cwd: dir,
      logDir: runDir.logs,
      // /api/v1/log answers only once the tree exists and Trillian serves it.
      ready: async () => {
        const reply = await getText(`${url}/api/v1/log`);
        if (reply.status !== 200) return false;
        treeId = String((JSON.parse(reply.body) as LogInfo).treeID ?? '');
        return treeId !== '';
      },
      readyTimeoutMs,
    }),
  );

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= rekor
      .stop()
      .finally(() => trillian.stop())
      .finally(() => db.stop());
    return stopping;
  };

  return stacked([{ stop }], async () => {
    // The key it serves must be the one we gave it: otherwise every SET would fail far from here.
    const served = await getText(`${url}/api/v1/log/publicKey`);
    const servedDer =
      served.status === 200
        ? createPublicKey(served.body).export({ type: 'spki', format: 'der' })
        : Buffer.alloc(0);
    if (!servedDer.equals(publicKeyDer))
      throw new WorldError(
        'REKOR_V1_KEY',
        `rekor-server at ${url} serves a public key (status ${served.status}) that is not the signer key it was given`,
      );
    return {
      url,
      hostname,
      publicKeyPem,
      publicKeyFile,
      publicKeyDer,
      logId,
      logIdHex: logId.toString('hex'),
      treeId,
      startedAt,
      db,
      logFiles: [db.logFile, ...trillian.logFiles, rekor.logFile],
      stop,
    };
  });
}
