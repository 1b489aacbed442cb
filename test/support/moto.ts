// moto's server, a real AWS API emulator (STS, ECR, ...), started on 127.0.0.1 with a free port for the
// ECR tests. Installed once from PyPI into ~/.cache/sigward/moto-<key>/ by scripts/ensure-moto.sh
// (pinned in test/support/moto/requirements.txt; about 20 s cold, nothing warm).
//
//   const moto = await startMoto();
//   process.env['AWS_ENDPOINT_URL'] = moto.url;   // or pass moto.url to an SDK client
//   after(() => moto.stop());
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './docker-registry.ts';

export interface Moto {
  /** `http://127.0.0.1:<port>`: the endpoint for every AWS service (AWS_ENDPOINT_URL). */
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

let serverPath: string | undefined;

/** The moto_server executable, installing it on first use. Throws with the installer's words. */
export function motoServer(): string {
  serverPath ??= execFileSync('bash', [path.resolve('scripts/ensure-moto.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return serverPath;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

export async function startMoto(): Promise<Moto> {
  const server = motoServer();
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(server, ['-H', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // No AWS settings of the machine may leak into the emulator.
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp' },
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    let serving = false;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const response = await fetch(`${url}/moto-api/`);
        await response.arrayBuffer();
        if (response.ok) {
          serving = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await delay(100); // readiness polling, not synchronisation of a test step
    }
    if (serving) {
      return {
        url,
        output: () => output,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited(child);
        },
      };
    }
    child.kill('SIGKILL');
    await exited(child);
    lastError = new Error(`moto_server did not serve on ${url}:\n${output.slice(-2000)}`);
    if (!/already in use/i.test(output)) break;
  }
  throw lastError ?? new Error('moto_server did not start');
}
