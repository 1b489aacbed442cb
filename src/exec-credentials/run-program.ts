// Runs a credential program (a docker credential helper, a kubelet credential provider plugin) the
// way their callers do: no shell, the request on stdin, the answer on stdout. Bounded: a deadline
// after which the program and its children are killed, a cap on stdout (a larger answer is refused,
// not read), and only the start of stderr kept. Never throws for the program's own failure: the
// caller turns the outcome into words, because only it knows which parts may hold a secret.
import { spawn } from 'node:child_process';
import { redactSecrets } from '../errors.ts';

export interface ProgramRun {
  /** The program: an absolute path, or a bare name looked up on PATH. */
  readonly command: string;
  readonly args: readonly string[];
  readonly stdin: string;
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
}

export type ProgramOutcome =
  | { readonly kind: 'exited'; readonly code: number; readonly stdout: Buffer; readonly stderr: string }
  | { readonly kind: 'killed'; readonly signal: string; readonly stderr: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'output-too-large' }
  /** The program could not be started (missing, not executable): the system's error code. */
  | { readonly kind: 'not-started'; readonly reason: string };

/** How much of stderr is kept for an error message. */
const stderrKeptBytes = 4096;

/** Process groups still running: killed if sigward exits first (they run detached from it). */
const running = new Set<() => void>();
let exitHookInstalled = false;
function killOnExit(kill: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const k of running) k();
    });
  }
  running.add(kill);
  return () => running.delete(kill);
}

export function runProgram(run: ProgramRun): Promise<ProgramOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let forget = (): void => undefined;
    const settle = (outcome: ProgramOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      forget();
      resolve(outcome);
    };
    const child = spawn(run.command, [...run.args], {
      env: run.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so a deadline kills the children a script started too.
      detached: true,
      shell: false,
      windowsHide: true,
    });
    const killAll = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const unregister = killOnExit(killAll);
    forget = () => void unregister();
    const timer = setTimeout(() => {
      killAll();
      settle({ kind: 'timeout' });
    }, run.timeoutMs);
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > run.maxOutputBytes) {
        killAll();
        settle({ kind: 'output-too-large' });
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < stderrKeptBytes) stderr += chunk.toString('utf8').slice(0, stderrKeptBytes);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      settle({ kind: 'not-started', reason: error.code ?? 'unknown error' });
    });
    child.on('close', (code, signal) => {
      if (code !== null) settle({ kind: 'exited', code, stdout: Buffer.concat(stdout), stderr });
      else settle({ kind: 'killed', signal: signal ?? 'unknown', stderr });
    });
    // A program that exits without reading its input must not crash us with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(run.stdin);
  });
}

/**
 * The last line of a program's message (where Go programs' loggers put the error, after their progress
 * lines), short, with token-like runs redacted (errors.ts' redactSecrets): safe to show.
 */
export function safeExcerpt(text: string): string {
  const line =
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .findLast((l) => l.length > 0) ?? '';
  return redactSecrets(line).slice(0, 400);
}

/** Words for an outcome that is not a clean exit, for error messages. */
export function describeOutcome(
  outcome: Exclude<ProgramOutcome, { kind: 'exited' }>,
  timeoutMs: number,
): string {
  switch (outcome.kind) {
    case 'timeout':
      return `it did not answer within ${timeoutMs / 1000} s and was killed`;
    case 'output-too-large':
      return 'its answer was larger than allowed and was not read';
    case 'not-started':
      return `it could not be started (${outcome.reason})`;
    case 'killed':
      return `it was killed by ${outcome.signal}`;
  }
}
