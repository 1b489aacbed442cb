// olareg (a small OCI-conformant registry whose referrers API is a flag), for the opt-in tests of the
// referrers API path. Built by `npm run e2e:tools` into e2e/.bin/olareg; tests using it run only when
// SIGWARD_TEST_OLAREG=1 (npm test needs no Go-built tools).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './docker-registry.ts';

export const OLAREG_BIN = process.env['SIGWARD_OLAREG'] ?? path.resolve('e2e/.bin/olareg');

/** Why olareg tests do not run here, or undefined when they do. */
export function olaregSkipReason(): string | undefined {
  if (process.env['SIGWARD_TEST_OLAREG'] !== '1')
    return 'opt-in: set SIGWARD_TEST_OLAREG=1 (needs npm run e2e:tools)';
  if (!existsSync(OLAREG_BIN)) return `${OLAREG_BIN} is missing: run "npm run e2e:tools"`;
  return undefined;
}

export interface Olareg {
  readonly host: string;
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startOlareg(options: { referrersApi: boolean }): Promise<Olareg> {
  const port = await freePort();
  const args = ['serve', '--addr', '127.0.0.1', '--port', String(port), '--store-type', 'mem'];
  args.push(`--api-referrer=${options.referrersApi}`);
  const child = spawn(OLAREG_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`olareg exited:\n${output}`);
    try {
      const response = await fetch(`${url}/v2/`);
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`olareg did not start:\n${output}`);
    }
    await delay(50); // readiness polling
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
