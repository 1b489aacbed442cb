// The admin's kubeconfig and a kubectl runner bound to it. The kubeconfig embeds its certificates, so it
// is one self-contained file that helm, kubectl and sigward's own client (src/kube/client) all read the same way.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { WorldError } from './errors.ts';

export interface KubectlResult {
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code; null when kubectl was killed (timeout). */
  readonly code: number | null;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin, e.g. a manifest for `apply -f -`. */
  input?: string;
  timeoutMs?: number;
}

export type Kubectl = (args: readonly string[], options?: KubectlOptions) => Promise<KubectlResult>;

const b64 = (pem: string): string => Buffer.from(pem).toString('base64');

export async function writeKubeconfig(
  file: string,
  cluster: { server: string; caPem: string },
  user: { name: string; certPem: string; keyPem: string },
): Promise<void> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'world',
        cluster: { server: cluster.server, 'certificate-authority-data': b64(cluster.caPem) },
      },
    ],
    users: [
      {
        name: user.name,
        user: { 'client-certificate-data': b64(user.certPem), 'client-key-data': b64(user.keyPem) },
      },
    ],
    contexts: [{ name: 'world', context: { cluster: 'world', user: user.name } }],
    'current-context': 'world',
  };
  await writeFile(file, stringify(config), { mode: 0o600 });
}

/**
 * kubectl with this kubeconfig and its discovery cache in the run directory (never in ~/.kube). It
 * resolves with the exit code instead of rejecting: tests assert failures too.
 */
export function kubectlRunner(binary: string, kubeconfig: string, cacheDir: string): Kubectl {
  return (args, options = {}) =>
    new Promise((resolve, reject) => {
      const child = spawn(binary, [`--kubeconfig=${kubeconfig}`, `--cache-dir=${cacheDir}`, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, KUBECONFIG: kubeconfig },
      });
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      const timeoutMs = options.timeoutMs ?? 60_000;
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(
          new WorldError('KUBECTL_SPAWN', `could not run ${binary}: ${error.message}`, { cause: error }),
        );
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr:
            Buffer.concat(stderr).toString('utf8') +
            (code === null ? `kubectl killed after ${timeoutMs} ms\n` : ''),
          code,
        });
      });
      // kubectl may exit before reading stdin (a bad flag); that EPIPE is not the error to report.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
    });
}

/** Runs kubectl and returns stdout, or throws one line: the command and kubectl's own first error line. */
export async function kubectlOk(kubectl: Kubectl, args: readonly string[], options?: KubectlOptions) {
  const result = await kubectl(args, options);
  if (result.code === 0) return result.stdout;
  const reason = result.stderr.split('\n').find((line) => line.trim() !== '') ?? `exit code ${result.code}`;
  throw new WorldError('KUBECTL_FAILED', `kubectl ${args.join(' ')}: ${reason.trim()}`);
}
