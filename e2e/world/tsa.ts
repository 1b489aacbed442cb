// The timestamp authority (timestamp-authority v2.1.3) on loopback with its in-memory signer: a fresh
// root, intermediate and leaf each start, served at /api/v1/timestamp/certchain for the trusted root.
//
// v2.1.3 always serves metrics on ":2112" (pkg/server/prometheus.go, not configurable) and exits when
// that port is taken, so one TSA runs per machine at a time; we wait for the port first, then say so.
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { splitPem } from './fulcio-ca.ts';
import { WorldError } from './errors.ts';
import { freePort, loopback } from './ports.ts';
import { answers } from './probe.ts';
import { startService, type Service } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { goTool } from './tools.ts';

export const tsaMetricsPort = 2112;

export interface Tsa {
  /** Base URL of the server. */
  url: string;
  /** The signing endpoint, as signing configs and clients name a TSA. */
  timestampUrl: string;
  /** The chain as PEM blocks: leaf, intermediate, root (what the trusted root lists). */
  chainPem: string[];
  service: Service;
  stop(): Promise<void>;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    // No host: the same dual-stack wildcard bind that Go's ":2112" makes.
    server.listen({ port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Waits (bounded) for :2112: on a shared machine another world's TSA may be stopping. Within one world,
 * start the TSA before Rekor v1, which also wants :2112 but carries on without it.
 */
async function metricsPortFree(waitMs = 30_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!(await portIsFree(tsaMetricsPort))) {
    if (Date.now() > deadline)
      throw new WorldError(
        'PORT_IN_USE',
        `port ${tsaMetricsPort} stayed in use for ${waitMs / 1000} s: timestamp-server v2.1.3 always binds it for metrics; stop what holds it (\`ss -ltnp 'sport = :${tsaMetricsPort}'\`)`,
      );
    await delay(250);
  }
}

export async function startTsa(runDir: RunDir): Promise<Tsa> {
  const binary = goTool('timestamp-server');
  await metricsPortFree();
  const dir = runDir.sub('tsa');
  const port = await freePort();
  const url = `http://${loopback}:${port}`;
  const service = await startService({
    name: 'tsa',
    command: binary,
    args: [
      'serve',
      `--host=${loopback}`,
      `--port=${port}`,
      '--timestamp-signer=memory',
      // NTP monitoring queries public time servers: nothing to reach here.
      '--disable-ntp-monitoring',
    ],
    // It reads $HOME/timestamp-server.yaml and ./timestamp-server.yaml when they exist: point both at
    // our empty directory.
    env: { HOME: dir },
    cwd: dir,
    logDir: runDir.logs,
    ready: () => answers(`${url}/ping`),
  });
  try {
    const response = await fetch(`${url}/api/v1/timestamp/certchain`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const chainPem = splitPem(await response.text());
    if (chainPem.length === 0) throw new Error('no certificate in the answer');
    return { url, timestampUrl: `${url}/api/v1/timestamp`, chainPem, service, stop: () => service.stop() };
  } catch (error) {
    await service.stop();
    throw new WorldError(
      'TSA_CHAIN',
      `could not read the TSA certificate chain from ${url}: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
}
