// Listening over HTTPS and shutting down in order: readiness off first (the Service stops sending
// new reviews), then fastify drains in-flight requests and closes connections, then the watchers and
// timers (informers, certificate watch) stop, so nothing answers from a half-stopped process.
//
// With client authentication the admission listener refuses, in the TLS handshake, every caller without
// a certificate from the client CA bundle (and, with names, one that names none of them): kubelet probes
// and Prometheus cannot present one, so /livez, /readyz and /metrics are also served by a health
// listener of their own (same serving certificate, no client certificate asked, nothing else served).
import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import type { AppDeps, Readiness } from './app.ts';
import {
  CALLER_REFUSALS,
  clientIdentities,
  handshakeRefusal,
  readClientCaBundle,
  RefusalLog,
} from './client-auth.ts';
import type { ClientAuth } from './client-auth.ts';
import { contextOptions, readKeyPair, watchServingFiles } from './tls.ts';
import type { CertificateFiles, KeyPair, ServingMaterial } from './tls.ts';

export interface ServeOptions extends Omit<AppDeps, 'https'> {
  readonly host: string;
  readonly port: number;
  /** Files (watched and reloaded on change) or fixed material. */
  readonly tls: CertificateFiles | KeyPair;
  /** Callers of the admission listener must present a certificate from this bundle (re-read on change). */
  readonly clientAuth?: ClientAuth;
  /** Where to serve /livez, /readyz and /metrics without a client certificate (a second listener). */
  readonly health?: { readonly host: string; readonly port: number };
  /** Wait between readiness off and closing the listener (endpoints to update). Default 0. */
  readonly drainDelayMs?: number;
  /** Stops informers and timers; runs after the server closed. */
  readonly stopWatchers?: () => Promise<void>;
  /** How often the certificate files are checked for a change. Default 1000 ms. */
  readonly certPollMs?: number;
  /** Called after the serving certificate or the client CA bundle was swapped (logs, tests). */
  readonly onCertificateReloaded?: () => void;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** The health listener's URL and port, when one was asked for. */
  readonly healthUrl?: string;
  readonly healthPort?: number;
  shutdown(): Promise<void>;
}

/** What the health listener serves; everything else there is a 404 (admission needs the other port). */
const HEALTH_ROUTES = new Set(['/livez', '/readyz', '/metrics']);

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const files = 'certFile' in options.tls ? options.tls : undefined;
  const pair = files === undefined ? (options.tls as KeyPair) : readKeyPair(files);
  const clientCa =
    options.clientAuth === undefined ? undefined : readClientCaBundle(options.clientAuth.caFile);
  let closing = false;
  const readiness = (): Readiness => {
    if (closing) return { ready: false, reasons: ['shutting down'] };
    return options.readiness();
  };
  const logger = options.logger.child({ component: 'server' });
  const app = buildApp({
    ...options,
    readiness,
    https:
      clientCa === undefined ? pair : { ...pair, ca: clientCa, requestCert: true, rejectUnauthorized: true },
  });
  if (options.clientAuth !== undefined) {
    const named = refuseUnknownCallers(app.server as Server, options.clientAuth, logger, options.metrics);
    // The connection is dropped as soon as its handshake ends; a request already parsed from the same
    // read must still never reach a handler.
    if (named !== undefined)
      app.addHook('onRequest', (request, reply, done) => {
        if (named.has(request.raw.socket)) return done();
        // Destroying the socket alone would still run the handler: the review must not happen at all.
        reply.hijack();
        request.raw.socket.destroy();
        done();
      });
  }
  const healthApp =
    options.health === undefined ? undefined : buildApp({ ...options, readiness, https: pair });
  healthApp?.addHook('onRequest', async (request, reply) => {
    if (!HEALTH_ROUTES.has(request.url.split('?')[0]!))
      return reply
        .code(404)
        .send({ error: 'this port serves only /livez, /readyz and /metrics', statusCode: 404 });
  });

  const port = await listen(app, options.host, options.port);
  let healthPort: number | undefined;
  if (healthApp !== undefined && options.health !== undefined) {
    try {
      healthPort = await listen(healthApp, options.health.host, options.health.port);
    } catch (error) {
      await app.close();
      // Which of the two listeners did not open, for the one-line refusal (cli/webhook.ts).
      throw Object.assign(error as object, { listener: 'health' });
    }
  }
  const apply = (material: ServingMaterial): void => {
    (app.server as Server).setSecureContext(contextOptions(material));
    // The health listener never asks for a client certificate: only the serving pair changes there.
    (healthApp?.server as Server | undefined)?.setSecureContext(
      contextOptions({ cert: material.cert, key: material.key }),
    );
  };
  const what =
    options.clientAuth === undefined ? 'serving certificate' : 'serving certificate or client CA bundle';
  const stopWatching =
    files === undefined
      ? () => undefined
      : watchServingFiles(
          files,
          options.clientAuth?.caFile,
          apply,
          {
            reloaded: () => {
              logger.info(`${what} reloaded`);
              options.onCertificateReloaded?.();
            },
            failed: (error) =>
              logger.warn({ err: error }, `${what} files do not load; keeping the previous ones`),
          },
          options.certPollMs,
        );
  let stopping: Promise<void> | undefined;
  return {
    url: urlOf(options.host, port),
    port,
    ...(healthPort === undefined || options.health === undefined
      ? {}
      : { healthUrl: urlOf(options.health.host, healthPort), healthPort }),
    shutdown() {
      stopping ??= (async () => {
        closing = true;
        if ((options.drainDelayMs ?? 0) > 0) await delay(options.drainDelayMs);
        stopWatching();
        await Promise.all([app.close(), healthApp?.close()]);
        await options.stopWatchers?.();
      })();
      return stopping;
    },
  };
}

/** Listens; the port actually bound (0 asks for a free one). */
async function listen(app: FastifyInstance, host: string, port: number): Promise<number> {
  // fastify announces every address itself ("Server listening at …", one line per interface on 0.0.0.0);
  // the webhook's own `listening` line says it once, with the routes. Its logger is fastify's alone.
  const level = app.log.level;
  app.log.level = 'warn';
  try {
    await app.listen({ host, port });
  } finally {
    app.log.level = level;
  }
  const address = app.server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}

function urlOf(host: string, port: number): string {
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Logs the callers the handshake refused (no certificate, another CA), and drops the connection of a
 * chained certificate that names none of the accepted names. With names, the connections whose
 * certificate names one of them (every other is dropped).
 */
function refuseUnknownCallers(
  server: Server,
  clientAuth: ClientAuth,
  logger: ServeOptions['logger'],
  metrics: ServeOptions['metrics'],
): WeakSet<object> | undefined {
  const refusals = new RefusalLog((fields) => logger.warn(fields, 'caller refused in the TLS handshake'));
  // Every reason exported at 0 from the start, so `increase()` sees the first refusal.
  for (const reason of CALLER_REFUSALS) metrics.callersRefused.inc({ reason }, 0);
  server.on('tlsClientError', (error: Error & { code?: string }, socket: TLSSocket) => {
    const { kind, reason } = handshakeRefusal(error, socket);
    metrics.callersRefused.inc({ reason: kind });
    refusals.refused(reason, { remote: socket.remoteAddress });
  });
  const names = new Set(clientAuth.names ?? []);
  if (names.size === 0) return undefined;
  const accepted = new WeakSet<object>();
  // Ahead of https.Server's own connection listener, so a refused socket never gets an HTTP parser.
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const certificate = socket.getPeerX509Certificate();
    const presented = certificate === undefined ? [] : clientIdentities(certificate);
    if (presented.some((name) => names.has(name))) {
      accepted.add(socket);
      return;
    }
    metrics.callersRefused.inc({ reason: 'name-not-accepted' });
    refusals.refused('client certificate names none of the --client-name identities', {
      remote: socket.remoteAddress,
      presented,
    });
    socket.destroy();
  });
  return accepted;
}
