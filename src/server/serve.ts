// Listening over HTTPS and shutting down in order: readiness off first (the Service stops sending
// new reviews), then fastify drains in-flight requests and closes connections, then the watchers and
// timers (informers, certificate watch) stop, so nothing answers from a half-stopped process.
import type { Server } from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { buildApp } from './app.ts';
import type { AppDeps, Readiness } from './app.ts';
import { readKeyPair, watchCertificate } from './tls.ts';
import type { CertificateFiles, KeyPair } from './tls.ts';

export interface ServeOptions extends Omit<AppDeps, 'https'> {
  readonly host: string;
  readonly port: number;
  /** Files (watched and reloaded on change) or fixed material. */
  readonly tls: CertificateFiles | KeyPair;
  /** Wait between readiness off and closing the listener (endpoints to update). Default 0. */
  readonly drainDelayMs?: number;
  /** Stops informers and timers; runs after the server closed. */
  readonly stopWatchers?: () => Promise<void>;
  /** How often the certificate files are checked for a change. Default 1000 ms. */
  readonly certPollMs?: number;
  /** Called after the serving certificate was swapped (logs, tests). */
  readonly onCertificateReloaded?: () => void;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  shutdown(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const pair = 'certFile' in options.tls ? readKeyPair(options.tls) : options.tls;
  let closing = false;
  const readiness = (): Readiness => {
    if (closing) return { ready: false, reasons: ['shutting down'] };
    return options.readiness();
  };
  const app = buildApp({ ...options, readiness, https: pair });
  // fastify announces every address itself ("Server listening at …", one line per interface on 0.0.0.0);
  // the webhook's own `listening` line says it once, with the routes. Its logger is fastify's alone.
  const level = app.log.level;
  app.log.level = 'warn';
  try {
    await app.listen({ host: options.host, port: options.port });
  } finally {
    app.log.level = level;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const logger = options.logger.child({ component: 'server' });
  const stopWatching =
    'certFile' in options.tls
      ? watchCertificate(
          app.server as Server,
          options.tls,
          {
            reloaded: () => {
              logger.info('serving certificate reloaded');
              options.onCertificateReloaded?.();
            },
            failed: (error) =>
              logger.warn({ err: error }, 'serving certificate files do not load; keeping the previous pair'),
          },
          options.certPollMs,
        )
      : () => undefined;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let stopping: Promise<void> | undefined;
  return {
    url: `https://${host}:${port}`,
    port,
    shutdown() {
      stopping ??= (async () => {
        closing = true;
        if ((options.drainDelayMs ?? 0) > 0) await delay(options.drainDelayMs);
        stopWatching();
        await app.close();
        await options.stopWatchers?.();
      })();
      return stopping;
    },
  };
}
