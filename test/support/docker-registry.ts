// A real registry for tests: Debian's docker-registry 2.8 (distribution v2, no referrers API) started
// on 127.0.0.1 with a free port, its own config file and a temporary storage directory. Optional auth:
// htpasswd (Basic) or token auth backed by our own token server (test/support/token-server.ts).
// The same config (version 0.1) and lifecycle start CNCF distribution v3 (`registry:3`), another build
// of the same program: test/support/distribution-registry.ts passes its binary as `program`.
//
//   const registry = await startDockerRegistry({ auth: { kind: 'htpasswd', users: { alice: 'pw' } } });
//   afterEach((t) => registry.noteResult(t));   // keeps the log when a test failed
//   after(() => registry.stop());
//
// Install the binary with `bash scripts/ensure-debian-tools.sh test`; a missing binary is an error.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import bcrypt from 'bcryptjs';
import { startTokenServer, type TokenServer, type TokenServerOptions } from './token-server.ts';

export const DOCKER_REGISTRY_BIN = process.env['SIGWARD_DOCKER_REGISTRY'] ?? '/usr/bin/docker-registry';

/** A build of distribution's `registry serve CONFIG`: which binary, and what to say when it is missing. */
export interface RegistryProgram {
  /** For messages: `docker-registry`, `distribution v3`. */
  readonly name: string;
  readonly bin: string;
  /** The command that installs the binary. */
  readonly install: string;
  /** More environment for the process. */
  readonly env?: Readonly<Record<string, string>>;
}

export const DEBIAN_DOCKER_REGISTRY: RegistryProgram = {
  name: 'docker-registry',
  bin: DOCKER_REGISTRY_BIN,
  install: 'bash scripts/ensure-debian-tools.sh test',
};

export type RegistryAuth =
  | { readonly kind: 'htpasswd'; readonly users: Readonly<Record<string, string>> }
  | ({ readonly kind: 'token' } & TokenServerOptions);

export interface DockerRegistryOptions {
  readonly auth?: RegistryAuth;
  /** Serve TLS with this PEM certificate and key (tests pass a CA to the client). */
  readonly tls?: {
    readonly certFile: string;
    readonly keyFile: string;
    /** The CA to trust while waiting for the registry; without it, the certificate file itself. */
    readonly caPem?: string;
  };
  /** Keep the log and storage even when every test passed. */
  readonly keepLogs?: boolean;
  /** The registry binary; default Debian's docker-registry. */
  readonly program?: RegistryProgram;
}

export interface DockerRegistry {
  /** `127.0.0.1:<port>`: the registry part of image references. */
  readonly host: string;
  readonly url: string;
  readonly dir: string;
  readonly logFile: string;
  /** The token server, when auth is `token`. */
  readonly tokenServer?: TokenServer;
  /** Call from afterEach: a failed test keeps the log directory for inspection. */
  noteResult(t: object): void;
  /** The last lines of the registry's log. */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** A port on 127.0.0.1 that was free a moment ago. The caller retries if it is taken before use. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function yamlString(value: string): string {
  return JSON.stringify(value);
}

async function configFor(
  dir: string,
  port: number,
  options: DockerRegistryOptions,
  tokenServer: TokenServer | undefined,
): Promise<string> {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${yamlString(path.join(dir, 'storage'))}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${yamlString(Math.random().toString(36).slice(2))}`,
  ];
  if (options.tls !== undefined) {
    lines.push(
      '  tls:',
      `    certificate: ${yamlString(options.tls.certFile)}`,
      `    key: ${yamlString(options.tls.keyFile)}`,
    );
  }
  const auth = options.auth;
  if (auth?.kind === 'htpasswd') {
    const file = path.join(dir, 'htpasswd');
    const entries = Object.entries(auth.users).map(
      ([user, password]) => `${user}:${bcrypt.hashSync(password, 4)}`,
    );
    await writeFile(file, `${entries.join('\n')}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: sigward-test', `    path: ${yamlString(file)}`);
  } else if (auth?.kind === 'token' && tokenServer !== undefined) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${yamlString(tokenServer.realm)}`,
      `    service: ${yamlString(tokenServer.service)}`,
      `    issuer: ${yamlString(tokenServer.issuer)}`,
      `    rootcertbundle: ${yamlString(tokenServer.certFile)}`,
    );
  }
  const file = path.join(dir, 'config.yml');
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** Resolves once the child has exited and its stdout and stderr are read to their end. */
function closed(child: ChildProcess): Promise<void> {
  const done =
    (child.exitCode !== null || child.signalCode !== null) &&
    child.stdout?.readableEnded !== false &&
    child.stderr?.readableEnded !== false;
  return done ? Promise.resolve() : new Promise((resolve) => child.once('close', () => resolve()));
}

/** The last characters a starting registry wrote: kept in memory to read why it failed to start. */
const STARTUP_OUTPUT_CHARS = 16_384;

async function waitUntilServing(name: string, url: string, child: ChildProcess, ca?: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent(ca === undefined ? {} : { connect: { ca } });
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${name} exited early:`);
      }
      try {
        const response = await request(`${url}/v2/`, { dispatcher });
        await response.body.dump();
        if (response.statusCode === 200 || response.statusCode === 401) return;
      } catch {
        // not listening yet
      }
      await delay(50); // readiness polling, not synchronisation of a test step
    }
    throw new Error(`${name} did not answer on ${url} within 20 s:`);
  } finally {
    await dispatcher.close();
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function startDockerRegistry(options: DockerRegistryOptions = {}): Promise<DockerRegistry> {
  const program = options.program ?? DEBIAN_DOCKER_REGISTRY;
  if (!existsSync(program.bin)) {
    throw new Error(`${program.bin} is missing: run "${program.install}"`);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sigward-registry-'));
  const tokenServer =
    options.auth?.kind === 'token' ? await startTokenServer({ ...options.auth, dir }) : undefined;
  const logFile = path.join(dir, 'registry.log');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = await configFor(dir, port, options, tokenServer);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(program.bin, ['serve', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, ...program.env },
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    // Why it failed to start, read from memory: the log file can still lack the last lines when the
    // child has exited (the pipe to it is asynchronous), which hid a lost port race from the retry.
    let startupOutput = '';
    const keepStartupOutput = (chunk: Buffer): void => {
      startupOutput = (startupOutput + chunk.toString('utf8')).slice(-STARTUP_OUTPUT_CHARS);
    };
    child.stdout?.on('data', keepStartupOutput);
    child.stderr?.on('data', keepStartupOutput);
    // A test process that exits without stop() (a crash, a cancelled run) must not leave it running.
    const killOnExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    // 'close', not 'exit': the child's last output can still be on its way after it exited.
    child.once('close', () => {
      log.end();
      process.off('exit', killOnExit);
    });
    const scheme = options.tls === undefined ? 'http' : 'https';
    const url = `${scheme}://127.0.0.1:${port}`;
    try {
      const tls = options.tls;
      const ca = tls === undefined ? undefined : (tls.caPem ?? readFileSync(tls.certFile, 'utf8'));
      await waitUntilServing(program.name, url, child, ca);
    } catch (error) {
      child.kill('SIGKILL');
      await closed(child);
      lastError = new Error(
        `${error instanceof Error ? error.message : String(error)}\n${startupOutput.trimEnd()}`,
      );
      if (/address already in use/.test(startupOutput)) continue; // lost the port race: next port
      break;
    }
    child.stdout?.off('data', keepStartupOutput);
    child.stderr?.off('data', keepStartupOutput);
    let failed = false;
    return {
      host: `127.0.0.1:${port}`,
      url,
      dir,
      logFile,
      ...(tokenServer === undefined ? {} : { tokenServer }),
      noteResult(t) {
        if ('passed' in t && t.passed === false) failed = true;
      },
      logTail: (lines) => tail(logFile, lines),
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited(child);
          clearTimeout(killer);
        }
        await tokenServer?.stop();
        if (failed || options.keepLogs === true || process.env['SIGWARD_KEEP_LOGS'] === '1') {
          console.error(`${program.name} log kept in ${logFile}`);
        } else {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  }
  await tokenServer?.stop();
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
