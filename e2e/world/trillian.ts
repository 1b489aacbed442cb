// Trillian, the Merkle-tree log under Rekor v1: one log server (the gRPC API Rekor talks to) and one log
// signer (sequences queued leaves into the tree), both on MariaDB storage, loopback only. The signer is
// forced master: there is no etcd election in the world. Its MySQL schema comes from the very module
// the binaries were built from, found through the pinned tools module and the Go module cache.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WorldError } from './errors.ts';
import type { MariaDb } from './mariadb.ts';
import { freePort, loopback } from './ports.ts';
import { answers } from './probe.ts';
import { startService, type Service } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { goTool, repoRoot } from './tools.ts';

const trillianModule = 'github.com/google/trillian';

export interface TrillianOptions {
  /** The MariaDB database that holds Trillian's schema (see `trillianSchemaFile`). */
  database: string;
  readyTimeoutMs?: number;
}

export interface Trillian {
  /** The log server's gRPC endpoint: what `--trillian_log_server.address/port` of Rekor point at. */
  readonly rpcHost: string;
  readonly rpcPort: number;
  readonly logFiles: readonly string[];
  /** Ends the signer and the server. Safe to call twice. */
  stop(): Promise<void>;
}

/** The Trillian version pinned by e2e/tools/trillian/go.mod, e.g. `v1.7.3`. */
export function trillianVersion(toolsModuleDir = path.join(repoRoot, 'e2e', 'tools', 'trillian')): string {
  const goMod = path.join(toolsModuleDir, 'go.mod');
  let text: string;
  try {
    text = readFileSync(goMod, 'utf8');
  } catch (error) {
    throw new WorldError('TRILLIAN_SCHEMA', `cannot read ${goMod}: the Trillian tools module is missing`, {
      cause: error,
    });
  }
  const line = text.split('\n').find((l) => l.trim().split(/\s+/)[0] === trillianModule);
  const version = line?.trim().split(/\s+/)[1];
  if (version === undefined || !/^v\d+\.\d+\.\d+/.test(version))
    throw new WorldError('TRILLIAN_SCHEMA', `${goMod} requires no version of ${trillianModule}`);
  return version;
}

function goModCache(): string {
  if (process.env.GOMODCACHE) return process.env.GOMODCACHE;
  try {
    const out = execFileSync('go', ['env', 'GOMODCACHE'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    if (out.trim() !== '') return out.trim();
  } catch {
    // No Go on PATH: fall back to Go's own default below.
  }
  const gopath = process.env.GOPATH?.split(path.delimiter)[0] ?? path.join(os.homedir(), 'go');
  return path.join(gopath, 'pkg', 'mod');
}

/**
 * Trillian's MySQL/MariaDB schema (`storage/mysql/schema/storage.sql`) from the downloaded module of the
 * pinned version: the module cache holds it once `npm run e2e:tools:full` has built the binaries.
 */
export function trillianSchemaFile(version = trillianVersion()): string {
  const file = path.join(
    goModCache(),
    `${trillianModule}@${version}`,
    'storage',
    'mysql',
    'schema',
    'storage.sql',
  );
  try {
    accessSync(file, constants.R_OK);
  } catch {
    throw new WorldError(
      'TOOL_MISSING',
      // The binaries may be cached while the module cache was cleaned: then only a download brings it back.
      `Trillian's MySQL schema is not in the Go module cache (${file}): run \`npm run e2e:tools:full\`, or \`(cd e2e/tools/trillian && go mod download ${trillianModule})\` if the tools are already built`,
    );
  }
  return file;
}

/** True once something accepts TCP connections on the port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => socket.destroy());
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

/**
 * Ends a Trillian process at once. On SIGTERM both binaries sleep 5 to 10 s "to tidy up" before they
 * exit (cmd/internal/serverutil, cmd/trillian_log_signer); everything they hold is already committed
 * to MariaDB, which itself still stops cleanly afterwards, and dies with the run anyway.
 */
async function endNow(service: Service): Promise<void> {
  try {
    process.kill(service.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
  await service.exited;
}

export async function startTrillian(
  runDir: RunDir,
  db: MariaDb,
  options: TrillianOptions,
): Promise<Trillian> {
  const serverBinary = goTool('trillian_log_server');
  const signerBinary = goTool('trillian_log_signer');
  const [rpcPort, httpPort, signerRpcPort, signerHttpPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const storage = [
    '--storage_system=mysql',
    `--mysql_uri=${db.dsn(options.database)}`,
    '--quota_system=noop',
    '--logtostderr',
  ];
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;

  // Server and signer share only the database: they can start together.
  const [server, signer] = await Promise.allSettled([
    startService({
      name: 'trillian-log-server',
      command: serverBinary,
      args: [...storage, `--rpc_endpoint=${loopback}:${rpcPort}`, `--http_endpoint=${loopback}:${httpPort}`],
      logDir: runDir.logs,
      // /healthz checks the storage too (200 only once MariaDB answers); the gRPC listener opens just
      // after the HTTP one, and gRPC is what Rekor dials.
      ready: async () =>
        (await answers(`http://${loopback}:${httpPort}/healthz`)) && (await accepts(loopback, rpcPort)),
      readyTimeoutMs,
    }),
    startService({
      name: 'trillian-log-signer',
      command: signerBinary,
      args: [
        ...storage,
        '--force_master',
        // Sequence often, so an entry is in the tree moments after Rekor queued it.
        '--sequencer_interval=100ms',
        '--batch_size=100',
        `--rpc_endpoint=${loopback}:${signerRpcPort}`,
        `--http_endpoint=${loopback}:${signerHttpPort}`,
      ],
      logDir: runDir.logs,
      ready: () => answers(`http://${loopback}:${signerHttpPort}/healthz`),
      readyTimeoutMs,
    }),
  ]);
  if (server.status === 'rejected' || signer.status === 'rejected') {
    const started: Service[] = [server, signer].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    await Promise.all(started.map((s) => s.stop()));
    throw server.status === 'rejected' ? server.reason : (signer as PromiseRejectedResult).reason;
  }

  let stopping: Promise<void> | undefined;
  return {
    rpcHost: loopback,
    rpcPort,
    logFiles: [server.value.logFile, signer.value.logFile],
    stop() {
      stopping ??= Promise.all([endNow(signer.value), endNow(server.value)]).then(() => undefined);
      return stopping;
    },
  };
}
