// A fresh MariaDB datadir for one run, made by `mariadb-install-db` once per machine and copied after
// that. The bootstrap (system tables, help tables, the sys schema, then our databases and schemas) takes
// 1 to 3 s on a busy 2-core machine; copying its result (about 35 MB) takes a tenth of that.
//
// The template is keyed by everything that shapes it: the server's version, the bootstrap SQL and the
// InnoDB options. It lives beside the Go tools' cache (${SIGWARD_CACHE:-~/.cache/sigward}/mariadb/<key>),
// is made in a private directory and renamed into place, so a half-made or concurrent one is never used.
// It holds no user and no password: each run's server creates its own (see mariadb.ts).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorldError } from './errors.ts';
import { tailOf } from './process.ts';

const run = promisify(execFile);

export interface DatadirTools {
  installDb: string;
  server: string;
}

function cacheRoot(): string {
  return path.join(process.env.SIGWARD_CACHE ?? path.join(os.homedir(), '.cache', 'sigward'), 'mariadb');
}

async function install(
  tools: DatadirTools,
  datadir: string,
  bootstrap: string,
  options: readonly string[],
  log: string,
) {
  const bootstrapFile = path.join(path.dirname(datadir), 'bootstrap.sql');
  await writeFile(bootstrapFile, bootstrap);
  try {
    const { stdout, stderr } = await run(tools.installDb, [
      '--no-defaults',
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=socket',
      '--skip-test-db',
      '--skip-name-resolve',
      `--extra-file=${bootstrapFile}`,
      // No --user here: with it, the script also re-owns Debian's PAM plugin directory under /usr/lib
      // (a system-wide change). Its bootstrap server runs as whoever we are, root included.
      ...options,
    ]);
    await writeFile(log, stdout + stderr);
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    await writeFile(log, stdout + stderr);
    throw new WorldError(
      'MARIADB_INSTALL',
      `mariadb-install-db failed to make the datadir; log ${log}:\n${tailOf(log)}`,
      { cause: error },
    );
  }
}

/**
 * Fills `datadir` (which must not exist yet) with a datadir bootstrapped with `bootstrap` SQL and the
 * server `options`; `log` receives mariadb-install-db's output when it runs.
 */
export async function makeDatadir(
  tools: DatadirTools,
  datadir: string,
  bootstrap: string,
  options: readonly string[],
  log: string,
): Promise<{ fromCache: boolean }> {
  const { stdout: version } = await run(tools.server, ['--no-defaults', '--version']);
  const key = createHash('sha256')
    .update(JSON.stringify([version.trim(), bootstrap, options]))
    .digest('hex')
    .slice(0, 16);
  const template = path.join(cacheRoot(), key);
  const fromCache = existsSync(path.join(template, 'data'));
  if (!fromCache) {
    const building = path.join(cacheRoot(), `.building-${randomBytes(6).toString('hex')}`);
    mkdirSync(building, { recursive: true });
    try {
      await install(tools, path.join(building, 'data'), bootstrap, options, log);
      try {
        renameSync(building, template);
      } catch (error) {
        // Another run made the same template meanwhile: use theirs.
        if (!existsSync(path.join(template, 'data'))) throw error;
      }
    } finally {
      rmSync(building, { recursive: true, force: true });
    }
  } else {
    await writeFile(log, `datadir copied from ${template}/data (made by mariadb-install-db earlier)\n`);
  }
  cpSync(path.join(template, 'data'), datadir, { recursive: true });
  return { fromCache };
}
