// The real `./bin/sigward webhook` as a child process, for tests that read what an operator reads:
// stdout (JSON log lines only), stderr (the banner and the self-signed CA), and HTTPS answers.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import https from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../sigstore/ext.ts';

/** No cluster: no in-cluster service variables, no kubeconfig, no home directory. */
export function freshEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: '/nonexistent', HOME: '/nonexistent' };
  delete env['KUBERNETES_SERVICE_HOST'];
  return env;
}

export type LogRecord = Record<string, unknown> & { readonly level: number; readonly msg: string };

export interface RunningWebhook {
  readonly url: string;
  /** The self-signed CA printed on stderr. */
  readonly ca: string;
  /** Every stdout line so far, each parsed as JSON (a line that is not JSON fails the test). */
  records(): LogRecord[];
  /** Resolves once a stdout record satisfies `match` (checked on every new line, no polling). */
  waitFor(what: string, match: (record: LogRecord) => boolean): Promise<LogRecord>;
  get(path: string): Promise<{ status: number; body: string }>;
  post(path: string, body: string): Promise<{ status: number; body: string }>;
  /** SIGTERM; resolves to the exit code. */
  stop(): Promise<number | null>;
  readonly stderr: () => string;
  readonly stdout: () => string;
}

/** Starts `sigward webhook` on a free loopback port; `extraEnv` goes on top of freshEnv(). */
export async function startWebhook(
  args: readonly string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<RunningWebhook> {
  const child = spawn(join(REPO_ROOT, 'bin/sigward'), ['webhook', '--listen=127.0.0.1:0', ...args], {
    env: { ...freshEnv(), ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    for (const w of waiters) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const listening = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /listening on (https:\/\/127\.0\.0\.1:\d+)[\s\S]*-----END CERTIFICATE-----\n/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  const url = await listening;
  const ca = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(err)?.[0] ?? '';
  assert.ok(ca !== '', err);
  const records = (): LogRecord[] =>
    out
      .split('\n')
      .slice(0, -1) // the part after the last newline is a line still being written
      .map((line) => {
        try {
          return JSON.parse(line) as LogRecord;
        } catch {
          assert.fail(`stdout carries a line that is not JSON: ${JSON.stringify(line)}`);
        }
      });
  const request = (method: 'GET' | 'POST', path: string, body?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        `${url}${path}`,
        { method, ca, headers: body === undefined ? {} : { 'content-type': 'application/json' } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return {
    url,
    ca,
    records,
    waitFor: (what, match) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = records().find(match);
          if (found === undefined) return;
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        void exited.then(() => {
          if (waiters.delete(check)) reject(new Error(`exited before logging ${what}:\n${out}\n${err}`));
        });
        check();
      }),
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body),
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
    stderr: () => err,
    stdout: () => out,
  };
}

/**
 * What `sigward webhook --policies DIR` logs while loading DIR. The port it is given is taken on
 * purpose: the policies load (and are logged) before the listener opens, then it exits.
 */
export async function policyLoadLog(policies: string): Promise<{ records: LogRecord[]; stdout: string }> {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const { port } = taken.address() as AddressInfo;
  try {
    const stdout = await new Promise<string>((resolve) =>
      execFile(
        join(REPO_ROOT, 'bin/sigward'),
        ['webhook', `--listen=127.0.0.1:${port}`, `--policies=${policies}`],
        { env: freshEnv() },
        (_error, out) => resolve(out),
      ),
    );
    const records = stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as LogRecord);
    return { records, stdout };
  } finally {
    taken.close();
  }
}
