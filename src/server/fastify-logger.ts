// The logger fastify's own lines are written with (app.ts gives it to fastify in place of a
// `loggerInstance`). Given a `loggerInstance`, fastify writes through a child of it that carries its
// serializers for `req` (a request) and `res` (a reply), where the instance has none of its own
// (sigward's has none): this child is made the same way, so every line fastify writes reads as it did
// (test/server/fastify-lines.test.ts writes the same calls through fastify's own and compares).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../telemetry/index.ts';

/** `logger` with fastify's `req` and `res` serializers. */
export function fastifyLogger(logger: Logger): Logger {
  return logger.child({}, { serializers: { req: requestFields, res: replyFields } });
}

/** What fastify logs of a request (its lib/logger-pino.js `req` serializer). */
function requestFields(request: FastifyRequest): object {
  return {
    method: request.method,
    url: request.url,
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** What fastify logs of a reply: its status code (lib/logger-pino.js `res`). */
function replyFields(reply: FastifyReply): object {
  return { statusCode: reply.statusCode };
}
