// The HTTP face of the webhook, thin on purpose: parse the body (with an explicit limit), hand the
// AdmissionReview to the engine's handler, answer. `buildApp(deps)` returns an un-started fastify
// instance; tests drive it with `inject`, `startServer` (server.ts) listens over HTTPS.
import fastify, { LogController } from 'fastify';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import { lineWriter } from '../telemetry/index.ts';
import { AfterResponses } from './after-responses.ts';
import { fastifyLogger } from './fastify-logger.ts';
import { parseJsonBodies } from './json-body.ts';
import type { Logger, Metrics } from '../telemetry/index.ts';

export type ReviewRoute = 'validate' | 'mutate';
const REVIEW_ROUTES: readonly ReviewRoute[] = ['validate', 'mutate'];

/** What the engine made of one AdmissionReview body. */
export type HandledReview =
  | {
      readonly ok: true;
      /** The AdmissionReview to send back (apiVersion, kind, response). */
      readonly review: object;
      /** `review` already serialized (JSON.stringify(review), byte for byte): sent as it is. */
      readonly json?: string;
      /** The metric's decision label (telemetry's ADMISSION_DECISIONS). */
      readonly decision: string;
      readonly kind: string;
      readonly operation: string;
      /** One line for the log: the denial or the warnings (no secrets: what the user sees anyway). */
      readonly summary?: string;
      /** Namespace and name of the reviewed object, for the log. */
      readonly object?: string;
      /** The request's uid (what the apiserver's audit log names) and who asked, for the log. */
      readonly uid?: string;
      readonly user?: string;
      /** Reason codes of the failed results (SIGNATURE_MISSING, …), for the log. */
      readonly reasons?: readonly string[];
    }
  /** Not an AdmissionReview we can answer: a 400 with this message. */
  | { readonly ok: false; readonly message: string };

/** The engine's answer: at once when it needs nothing fetched (a cached review), else a promise. */
export type ReviewHandler = (body: unknown, route: ReviewRoute) => HandledReview | Promise<HandledReview>;

export interface Readiness {
  readonly ready: boolean;
  /** What is missing, in words (policies not synced, no trusted root, shutting down). */
  readonly reasons: readonly string[];
}

export interface AppDeps {
  readonly handleReview: ReviewHandler;
  readonly readiness: () => Readiness;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Largest request body. Default 6 MiB (an object and its old version, each up to etcd's 1.5 MiB, encoded). */
  readonly bodyLimitBytes?: number;
  /**
   * TLS material; without it the app speaks plain HTTP (tests with inject, the bench baseline). With
   * `ca`, `requestCert` and `rejectUnauthorized`, callers need a certificate chaining to `ca` (serve.ts).
   */
  readonly https?: {
    readonly key: Buffer | string;
    readonly cert: Buffer | string;
    readonly ca?: Buffer;
    readonly requestCert?: boolean;
    readonly rejectUnauthorized?: boolean;
  };
}

/** A review answered from the engine's result: what its admission line and metrics record. */
interface Answered {
  readonly route: ReviewRoute;
  readonly handled: Extract<HandledReview, { ok: true }>;
  /** Time in the engine, for the line. */
  readonly ms: number;
  /** Time until the answer was written, for the histogram. */
  readonly seconds: number;
}

/** The admission log line's fields (README "Logs"), in this order. */
const ADMISSION_LINE = [
  'route',
  'decision',
  'kind',
  'operation',
  'uid',
  'user',
  'object',
  'reasons',
  'ms',
  'summary',
] as const;

/** fastify's `request.id` of every request (see genReqId below). */
const UNNAMED_REQUEST = '';

export const DEFAULT_BODY_LIMIT = 6 * 1024 * 1024;
/** What fastify names a JSON reply it serialized itself: a serialized review is sent under the same. */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
export const TLS_MIN_VERSION = 'TLSv1.2';

export function buildApp(deps: AppDeps): FastifyInstance {
  const bodyLimit = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  const serverLog = fastifyLogger(deps.logger.child({ component: 'server' }));
  const options: FastifyServerOptions & { https?: object } = {
    // fastify is given no logger of its own (no `loggerInstance`) and writes its lines to `serverLog`
    // all the same: given one, it would time every request and listen for each response's 'finish' and
    // 'error' (a closure, two listeners added and removed), only to write a "request completed" line
    // that disableRequestLogging turns off: about 1 µs of every warm review (docs/performance.md, "Tenth
    // session"). Its per-request lines (a reply sent twice, a failing hook, a 503 while closing) go to
    // `request.log`/`reply.log`, which childLoggerFactory makes `serverLog` (no child per request: no
    // reqId binding, as before), and its instance's lines (client errors, a failing onListen hook) to
    // `app.log`, set to `serverLog` below.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: () => serverLog,
    // fastify's request id labels only the per-request child logger, which is not made: a review is
    // named in the log by its AdmissionReview uid. Not counting one skips a number-to-text per request.
    genReqId: () => UNNAMED_REQUEST,
    bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // The apiserver keeps connections open and reuses them; our side must outlive its idle timeout.
    keepAliveTimeout: 65_000,
    ...(deps.https === undefined ? {} : { https: { ...deps.https, minVersion: TLS_MIN_VERSION } }),
  };
  const app = fastify(options as FastifyServerOptions) as unknown as FastifyInstance;
  app.log = serverLog;

  // An AdmissionReview is JSON; anything else is refused with 415 before it is read.
  app.removeContentTypeParser('text/plain');
  parseJsonBodies(app);

  const log = deps.logger.child({ component: 'admission' });
  /** A body that never became a review (malformed JSON, too large, wrong type): counted as invalid. */
  const invalid = (route: ReviewRoute, error: string): void => {
    log.warn({ route, decision: 'invalid', error }, 'not an AdmissionReview');
    deps.metrics.countAdmission('invalid', 'unknown', route, 'unknown');
  };

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    let message = error.message;
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      message = `request body is larger than the limit of ${bodyLimit} bytes`;
    else if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      message = `request body is not valid JSON: ${error.message}`;
    else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      message = 'an AdmissionReview is sent as application/json';
    if (status >= 500) deps.logger.error({ err: error }, 'request failed');
    else {
      const route = REVIEW_ROUTES.find((r) => request.url === `/${r}` || request.url.startsWith(`/${r}?`));
      if (route !== undefined) invalid(route, message);
    }
    void reply.code(status).send({ error: message, statusCode: status });
  });

  // The admission line carries only fields built here (route, decision, kind, operation, uid, user,
  // object, reasons, ms, summary: no headers, tokens or secrets), so it skips key-path redaction, which
  // cost ~12 µs of the ~14 µs per line (bench: identical output), and is written by telemetry's
  // lineWriter: the same bytes as pino's call without building a merge object or ~5 KB of strings per
  // review. Everything else stays redacted.
  const admissionLog = deps.logger.child({ component: 'admission' }, { redact: { paths: [] } });
  const admissionLine = lineWriter(admissionLog, ADMISSION_LINE, 'admission');
  // Bound once per route: a review's metrics are one counter series and one histogram series.
  const durations = {
    validate: deps.metrics.admissionDuration.series({ route: 'validate' }),
    mutate: deps.metrics.admissionDuration.series({ route: 'mutate' }),
  } satisfies Record<ReviewRoute, unknown>;
  /** One JSON line per review, every part its own field to filter on (uid matches the apiserver's
   * audit log; reasons are the codes of what failed), then the review's metrics. */
  const recordAnswered = ({ route, handled, ms, seconds }: Answered): void => {
    const level = handled.decision === 'skip' ? 'debug' : 'info';
    if (admissionLine.enabled(level)) {
      const line = admissionLine.fields;
      line.route = route;
      line.decision = handled.decision;
      line.kind = handled.kind;
      line.operation = handled.operation;
      line.uid = handled.uid;
      line.user = handled.user;
      line.object = handled.object;
      line.reasons = handled.reasons;
      line.ms = ms;
      line.summary = handled.summary;
      admissionLine.write(level);
    }
    deps.metrics.countAdmission(handled.decision, handled.kind, route, handled.operation);
    durations[route].observe(seconds);
  };
  // Written after the turn's responses (after-responses.ts): up to 16 reviews share a turn at 16
  // connections, and each one's line and metrics delayed the answers of the reviews read after it.
  const answered = new AfterResponses(recordAnswered, (error) => {
    try {
      deps.logger.error({ err: error }, 'a review was answered but its admission line or metrics failed');
    } catch {
      // The logger itself failed: there is nowhere left to say it.
    }
  });
  // Nothing queued is lost when the server closes before the turn's end.
  app.addHook('onClose', (_instance, done) => {
    answered.flush();
    done();
  });
  const review = (route: ReviewRoute) => {
    const observe = (started: number): void => durations[route].observe((performance.now() - started) / 1000);
    const respond = (handled: HandledReview, started: number, reply: FastifyReply): undefined => {
      if (!handled.ok) {
        try {
          invalid(route, handled.message);
          reply.code(400).send({ error: handled.message, statusCode: 400 });
        } finally {
          observe(started);
        }
        return;
      }
      // The line's ms: the engine's time; the histogram's: until the answer was written.
      const ms = Math.round((performance.now() - started) * 10) / 10;
      try {
        if (handled.json === undefined) reply.code(200).send(handled.review);
        else reply.code(200).header('content-type', JSON_CONTENT_TYPE).send(handled.json);
      } finally {
        answered.add({ route, handled, ms, seconds: (performance.now() - started) / 1000 });
      }
    };
    // Not an async function: a review the engine answers at once (every image cached) is answered in
    // the same call, without the handler's promise, an await and fastify's wait on that promise.
    return (request: FastifyRequest, reply: FastifyReply): Promise<undefined> | undefined => {
      const started = performance.now();
      // The body is the engine's from here on (it keeps what the answer needs): fastify's request
      // would hold the whole parsed AdmissionReview until the answer is sent, through every registry
      // round trip of a review that waits, and under concurrency a scavenge promotes it. Nothing of
      // the app reads `request.body` after its handler (no hooks; the error handler reads the url).
      const body = request.body;
      request.body = undefined;
      let handled: HandledReview | Promise<HandledReview>;
      try {
        handled = deps.handleReview(body, route);
      } catch (error) {
        observe(started);
        throw error;
      }
      if (!(handled instanceof Promise)) return respond(handled, started, reply);
      return handled.then(
        (answer) => respond(answer, started, reply),
        (error: unknown) => {
          observe(started);
          throw error;
        },
      );
    };
  };
  for (const route of REVIEW_ROUTES) app.post(`/${route}`, review(route));

  app.get('/livez', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const state = deps.readiness();
    return reply.code(state.ready ? 200 : 503).send({
      status: state.ready ? 'ready' : 'not ready',
      ...(state.reasons.length > 0 ? { reasons: state.reasons } : {}),
    });
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.text();
    return reply.header('content-type', deps.metrics.contentType).send(text);
  });
  return app;
}
