// The real client CLIs of the world (crane, cosign v3, cosign v2 in the full tier, helm), run the way a
// user would run them but fenced in:
// - a clean environment: only PATH and locale come from this process, so no ambient credential of the
//   machine or CI (SIGSTORE_ID_TOKEN, ACTIONS_ID_TOKEN_REQUEST_URL, cloud keys) reaches a client;
// - HOME, DOCKER_CONFIG, XDG dirs, TUF_ROOT and helm's dirs inside the run dir;
// - no internet: every proxy variable points at a dead loopback port, and Go never proxies loopback, so
//   a request for the public Sigstore TUF root or Docker Hub fails at once instead of hanging;
// - secrets (identity tokens, passwords) never appear in an error: pass tokens by file (writeSecretFile)
//   or env, and whatever looks like a token is redacted from the command line and stderr we report.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorldError } from './errors.ts';
import type { RunDir } from './run-dir.ts';
import { goTool, type GoTool } from './tools.ts';

export interface ToolResult {
  /** The command line with secrets redacted, for messages. */
  readonly commandLine: string;
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

export interface RunOptions {
  /** Extra environment for this run (added to the fenced one). */
  env?: Readonly<Record<string, string>>;
  /** Bytes for the tool's stdin (e.g. a manifest for `crane edit manifest`). */
  input?: string | Uint8Array;
  cwd?: string;
  timeoutMs?: number;
  /** false: return a failed result instead of throwing (for tests that expect a failure). */
  check?: boolean;
  /** Values to redact from messages besides those found automatically. */
  secrets?: readonly string[];
  /** Return stderr exactly as printed, unredacted (for a test asserting that no secret is printed). */
  unredacted?: boolean;
}

export type ToolRunner = (args: readonly string[], options?: RunOptions) => Promise<ToolResult>;

export interface Clients {
  /** The fenced environment every client runs with. */
  readonly env: Readonly<Record<string, string>>;
  /** The clients' HOME inside the run dir. */
  readonly home: string;
  crane: ToolRunner;
  /** cosign v3 (new bundle format, signing config). */
  cosign: ToolRunner;
  /** cosign v2 (legacy `.sig` tags); full tier only. */
  cosign2: ToolRunner;
  helm: ToolRunner;
}

/** Any proxy points here: nothing listens on the discard port, so a non-loopback request fails at once. */
export const deadProxy = 'http://127.0.0.1:9';
const loopbackNames = '127.0.0.1,localhost,::1';
const defaultTimeoutMs = 120_000;

/** Writes a secret (an identity token, a password) to a file only the owner can read; returns its path. */
export function writeSecretFile(dir: string, name: string, value: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, value, { mode: 0o600 });
  return file;
}

const jwtPattern = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const privateKeyPattern = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;
const secretFlags = new Set([
  '--identity-token',
  '--password',
  '-p',
  '--key-password',
  '--registry-password',
]);
const secretEnvName = /TOKEN|PASSWORD|SECRET|PRIVATE|_KEY$/i;

/** Removes the given secrets and anything that looks like a JWT or a private key from a text. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out.replace(jwtPattern, '[redacted-jwt]').replace(privateKeyPattern, '[redacted-private-key]');
}

/** Secret values in a command line: the value of a secret flag, unless it names a file. */
function secretsInArgs(args: readonly string[]): string[] {
  const found: string[] = [];
  args.forEach((arg, i) => {
    const eq = arg.indexOf('=');
    const [flag, value] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, args[i + 1]];
    if (secretFlags.has(flag) && value !== undefined && !existsSync(value)) found.push(value);
  });
  return found;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs a binary to completion; throws a WorldError with its (redacted) stderr unless check is false. */
export function runTool(
  file: string,
  args: readonly string[],
  baseEnv: Readonly<Record<string, string>>,
  options: RunOptions = {},
): Promise<ToolResult> {
  const extraEnv = options.env ?? {};
  const secrets = [
    ...(options.secrets ?? []),
    ...secretsInArgs(args),
    ...Object.entries(extraEnv)
      .filter(([name]) => secretEnvName.test(name))
      .map(([, value]) => value),
  ];
  const commandLine = redact([path.basename(file), ...args].map(quote).join(' '), secrets);
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const started = performance.now();

  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: { ...baseEnv, ...extraEnv },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdin.on('error', () => undefined); // a tool that exits without reading its stdin
    child.stdin.end(options.input ?? '');
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new WorldError('TOOL_SPAWN', `${commandLine}: could not start: ${error.message}`, { cause: error }),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result: ToolResult = {
        commandLine,
        code: code ?? -1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        durationMs: Math.round(performance.now() - started),
      };
      if (timedOut) {
        reject(
          new WorldError(
            'TOOL_TIMEOUT',
            `${commandLine}: no answer within ${timeoutMs} ms; stderr:\n${redact(tail(result.stderr), secrets)}`,
          ),
        );
      } else if (result.code !== 0 && options.check !== false) {
        const how = signal === null ? `exited ${result.code}` : `was killed by ${signal}`;
        reject(
          new WorldError(
            'TOOL_FAILED',
            `${commandLine} ${how}; stderr:\n${redact(tail(result.stderr), secrets)}`,
          ),
        );
      } else {
        resolve(options.unredacted === true ? result : { ...result, stderr: redact(result.stderr, secrets) });
      }
    });
  });
}

function tail(text: string, lines = 25): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n') || '(empty)';
}

/** The fenced environment of the clients of one world, with its directories created. */
export function clientEnv(runDir: RunDir): Record<string, string> {
  const home = runDir.sub('client-home');
  const dirs = {
    DOCKER_CONFIG: path.join(home, '.docker'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    TUF_ROOT: path.join(home, '.sigstore', 'root'),
    HELM_CONFIG_HOME: path.join(home, '.config', 'helm'),
    HELM_CACHE_HOME: path.join(home, '.cache', 'helm'),
    HELM_DATA_HOME: path.join(home, '.local', 'share', 'helm'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  // An empty Docker config: no credential helper of the machine is ever asked.
  writeFileSync(path.join(dirs.DOCKER_CONFIG, 'config.json'), '{}\n');
  const inherited: Record<string, string> = {};
  for (const name of ['PATH', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']) {
    const value = process.env[name];
    if (value !== undefined) inherited[name] = value;
  }
  return {
    ...inherited,
    HOME: home,
    ...dirs,
    // cosign and helm read this too; a missing file means "no cluster" rather than the machine's one.
    KUBECONFIG: path.join(home, '.kube', 'config'),
    HTTP_PROXY: deadProxy,
    HTTPS_PROXY: deadProxy,
    http_proxy: deadProxy,
    https_proxy: deadProxy,
    NO_PROXY: loopbackNames,
    no_proxy: loopbackNames,
  };
}

/**
 * The same tool with more environment on every run, e.g. `withEnv(clients.crane, { SSL_CERT_FILE: caFile })`
 * for a registry with a private CA.
 */
export function withEnv(runner: ToolRunner, env: Readonly<Record<string, string>>): ToolRunner {
  return (args, options = {}) => runner(args, { ...options, env: { ...env, ...options.env } });
}

/** The client CLIs of one world. Each tool is looked up on first use, so a missing cosign fails only its tests. */
export function createClients(runDir: RunDir, toolsDir?: string): Clients {
  const env = clientEnv(runDir);
  const runner =
    (tool: GoTool): ToolRunner =>
    (args, options) =>
      runTool(goTool(tool, toolsDir), args, env, options);
  return {
    env,
    home: env.HOME ?? '',
    crane: runner('crane'),
    cosign: runner('cosign'),
    cosign2: runner('cosign2'),
    helm: runner('helm'),
  };
}
