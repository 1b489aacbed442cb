// A private MariaDB (Debian's mariadb-server) for Trillian and Rekor v1's search index: a fresh datadir
// in the run directory (mariadb-datadir.ts), TCP on 127.0.0.1 only, its own socket and pid file, no
// option files read (so the machine's /etc/mysql never matters), and one user with a random password
// who owns the databases.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorldError } from './errors.ts';
import { freePort, loopback } from './ports.ts';
import { makeDatadir } from './mariadb-datadir.ts';
import { startService } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { debianTool } from './tools.ts';

const run = promisify(execFile);

export interface Database {
  /** A plain name: letters, digits and `_`. */
  name: string;
  /** SQL loaded into the database when the datadir is made (e.g. Trillian's storage.sql). */
  schemaFile?: string;
}

export interface MariaDbOptions {
  databases: readonly Database[];
  /** The TCP port on 127.0.0.1; a free one by default. */
  port?: number;
  readyTimeoutMs?: number;
}

export interface MariaDb {
  readonly host: string;
  readonly port: number;
  /** The private unix socket (for the `mariadb` client; services use TCP). */
  readonly socket: string;
  readonly user: string;
  readonly password: string;
  /** A Go MySQL driver DSN for one of the databases: `user:password@tcp(127.0.0.1:port)/name`. */
  dsn(database: string): string;
  /** Runs SQL with the `mariadb` client as the user; resolves with its tab-separated output. */
  query(database: string, sql: string): Promise<string>;
  readonly logFile: string;
  stop(): Promise<void>;
}

const userName = 'sigward';
const safeName = /^[A-Za-z0-9_]+$/;

function checkedName(name: string): string {
  if (!safeName.test(name))
    throw new WorldError('MARIADB_BAD_NAME', `invalid database name ${JSON.stringify(name)}`);
  return name;
}

const quoteName = (name: string): string => `\`${checkedName(name)}\``;

/** The server refuses to run as root unless told to; as anyone else `--user` would only warn. */
function runAsArgs(): string[] {
  return process.getuid?.() === 0 ? ['--user=root'] : [];
}

/**
 * Smaller than the defaults (a 96 MiB redo log, a 128 MiB buffer pool), and without fsync at commit:
 * the data dies with the run. Given to the bootstrap of `mariadb-install-db` and to the server alike.
 */
const lightInnodb = [
  '--innodb-log-file-size=16M',
  '--innodb-buffer-pool-size=64M',
  '--innodb-flush-log-at-trx-commit=2',
  '--innodb-doublewrite=0',
];

/**
 * The bootstrap SQL of `mariadb-install-db --extra-file`: it runs with grant tables off, so it makes the
 * databases and loads their schemas; the user is made by the server's `--init-file` (see below).
 */
async function bootstrapSql(databases: readonly Database[]): Promise<string> {
  const parts: string[] = [];
  for (const database of databases) {
    parts.push(`CREATE DATABASE ${quoteName(database.name)};`, `USE ${quoteName(database.name)};`);
    if (database.schemaFile !== undefined) {
      const schema = await readFile(database.schemaFile, 'utf8').catch((error: unknown) => {
        throw new WorldError(
          'MARIADB_SCHEMA',
          `cannot read the schema of database ${database.name} at ${database.schemaFile}: ${(error as Error).message}`,
          { cause: error },
        );
      });
      parts.push(schema);
    }
  }
  return `${parts.join('\n')}\n`;
}

/** One statement per line: the server reads `--init-file` line by line. */
function userSql(databases: readonly Database[], password: string): string {
  const account = `'${userName}'@'${loopback}'`;
  return [
    `CREATE USER ${account} IDENTIFIED BY '${password}';`,
    ...databases.map((d) => `GRANT ALL PRIVILEGES ON ${quoteName(d.name)}.* TO ${account};`),
    '',
  ].join('\n');
}

export async function startMariaDb(runDir: RunDir, options: MariaDbOptions): Promise<MariaDb> {
  const installDb = debianTool('mariadb-install-db', 'mariadb-server');
  const server = debianTool('mariadbd', 'mariadb-server');
  const client = debianTool('mariadb', 'mariadb-client');
  if (options.databases.length === 0)
    throw new WorldError('MARIADB_NO_DATABASE', 'startMariaDb needs at least one database');

  const dir = runDir.sub('mariadb');
  const datadir = path.join(dir, 'data');
  const socket = path.join(dir, 'mariadb.sock');
  const initFile = path.join(dir, 'init.sql');
  // Hex only: it goes into SQL and a DSN without quoting trouble.
  const password = randomBytes(16).toString('hex');
  const port = options.port ?? (await freePort());

  await writeFile(initFile, userSql(options.databases, password), { mode: 0o600 });

  await makeDatadir(
    { installDb, server },
    datadir,
    await bootstrapSql(options.databases),
    lightInnodb,
    path.join(runDir.logs, 'mariadb-install-db.log'),
  );

  const clientArgs = (database: string): string[] => [
    '--no-defaults',
    '--protocol=TCP',
    `--host=${loopback}`,
    `--port=${port}`,
    `--user=${userName}`,
    '--batch',
    '--skip-column-names',
    `--database=${database}`,
  ];
  // The password goes through the environment, not argv (which `ps` shows).
  const clientEnv = { ...process.env, MYSQL_PWD: password };
  const query = async (database: string, sql: string): Promise<string> => {
    try {
      const { stdout } = await run(client, [...clientArgs(checkedName(database)), `--execute=${sql}`], {
        env: clientEnv,
        timeout: 10_000,
      });
      return stdout;
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
      throw new WorldError('MARIADB_QUERY', `mariadb query failed: ${stderr || String(error)}`, {
        cause: error,
      });
    }
  };
  const firstDatabase = options.databases[0]?.name ?? '';

  const service = await startService({
    name: 'mariadb',
    command: server,
    args: [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--socket=${socket}`,
      `--pid-file=${path.join(dir, 'mariadb.pid')}`,
      `--tmpdir=${dir}`,
      `--bind-address=${loopback}`,
      `--port=${port}`,
      '--skip-name-resolve',
      '--skip-log-bin',
      `--init-file=${initFile}`,
      ...runAsArgs(),
      ...lightInnodb,
    ],
    logDir: runDir.logs,
    // Ready when a real client logs in as the user: the server accepts TCP and the init file has run.
    ready: () => query(firstDatabase, 'SELECT 1').then(() => true),
    readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
  });

  return {
    host: loopback,
    port,
    socket,
    user: userName,
    password,
    dsn: (database) => `${userName}:${password}@tcp(${loopback}:${port})/${checkedName(database)}`,
    query,
    logFile: service.logFile,
    stop: () => service.stop(),
  };
}
