// A service of the world: one child process with its output in a log file, a readiness check, and a
// stop that always ends it. Readiness is a condition polled until it holds (or the process dies), never a
// fixed sleep.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { WorldError } from './errors.ts';

export interface ServiceSpec {
  /** Short name, used for the log file and in errors: `kube-apiserver`. */
  name: string;
  command: string;
  args: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  logDir: string;
  /** Resolves true once the service answers; called repeatedly until then. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Also keep stdout alone in `<name>.stdout.log` (a test that reads only what a log collector reads). */
  keepStdout?: boolean;
}

export interface Service {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** stdout alone, when the spec asked for it (keepStdout). */
  readonly stdoutFile?: string;
  /** Resolves when the process has exited, for whatever reason. */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

const stopGraceMs = 10_000;

/** The last lines of a log file, to put the service's own words into an error. */
export function tailOf(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

export async function startService(spec: ServiceSpec): Promise<Service> {
  const logFile = path.join(spec.logDir, `${spec.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  await new Promise((resolve, reject) => log.once('open', resolve).once('error', reject));
  log.write(`$ ${spec.command} ${spec.args.join(' ')}\n`);

  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const spawnFailure = new Promise<Error>((resolve) => child.once('error', resolve));
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const stdoutFile = spec.keepStdout === true ? path.join(spec.logDir, `${spec.name}.stdout.log`) : undefined;
  if (stdoutFile !== undefined) child.stdout?.pipe(createWriteStream(stdoutFile, { flags: 'a' }));
  const exited = exitOf(child);
  exited.then(() => log.end()).catch(() => undefined);

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    // An unref'd grace timer: a service that stops at once must not keep the test process alive 10 s.
    const grace = delay(stopGraceMs, false, { ref: false });
    const ended = await Promise.race([exited.then(() => true), grace]);
    if (!ended) {
      child.kill('SIGKILL');
      await exited;
    }
  };

  const deadline = Date.now() + (spec.readyTimeoutMs ?? 60_000);
  let pause = 50;
  let died: number | null | undefined;
  exited.then((code) => (died = code)).catch(() => undefined);
  const spawnError = await Promise.race([spawnFailure, delay(0).then(() => undefined)]);
  if (spawnError)
    throw new WorldError(
      'SERVICE_SPAWN',
      `${spec.name}: could not start ${spec.command}: ${spawnError.message}`,
    );

  for (;;) {
    if (died !== undefined) {
      throw new WorldError(
        'SERVICE_EXITED',
        `${spec.name} exited (code ${String(died)}) before it was ready; log ${logFile}:\n${tailOf(logFile)}`,
      );
    }
    if (await spec.ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new WorldError(
        'SERVICE_NOT_READY',
        `${spec.name} was not ready within ${spec.readyTimeoutMs ?? 60_000} ms; log ${logFile}:\n${tailOf(logFile)}`,
      );
    }
    await delay(pause);
    pause = Math.min(pause * 2, 500);
  }
  return {
    name: spec.name,
    pid: child.pid ?? -1,
    logFile,
    ...(stdoutFile === undefined ? {} : { stdoutFile }),
    exited,
    stop,
  };
}
