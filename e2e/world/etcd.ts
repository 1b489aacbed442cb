// etcd for the world's kube-apiserver: one member on loopback, data in the run directory, no fsync
// (the data dies with the run, and fsync is what makes etcd slow on a shared disk).
import { chmodSync } from 'node:fs';
import { freePort, loopback } from './ports.ts';
import { answers } from './probe.ts';
import { startService } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { goTool } from './tools.ts';

export interface Etcd {
  /** The client URL, for `--etcd-servers`. */
  readonly url: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface EtcdOptions {
  /** The client port; a free one by default. */
  port?: number;
  readyTimeoutMs?: number;
}

export async function startEtcd(runDir: RunDir, options: EtcdOptions = {}): Promise<Etcd> {
  const binary = goTool('etcd');
  const [clientPort, peerPort] = await Promise.all([options.port ?? freePort(), freePort()]);
  const url = `http://${loopback}:${clientPort}`;
  const peerUrl = `http://${loopback}:${peerPort}`;
  const dataDir = runDir.sub('etcd');
  chmodSync(dataDir, 0o700); // what etcd asks for (it warns otherwise)
  const service = await startService({
    name: 'etcd',
    command: binary,
    args: [
      '--name=world',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=world=${peerUrl}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    logDir: runDir.logs,
    // /health answers 503 until the member has elected itself leader.
    ready: () => answers(`${url}/health`),
    readyTimeoutMs: options.readyTimeoutMs ?? 30_000,
  });
  return { url, logFile: service.logFile, stop: () => service.stop() };
}
