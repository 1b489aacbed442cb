// The JSON body parser of the webhook: fastify's own (secure-json-parse, which refuses a body with a
// `__proto__` or `constructor` key: a 400, "not valid JSON"), except that a body whose text cannot
// hold such a key is parsed by JSON.parse alone. fastify's parser looks for the keys with two regular
// expressions run over every body (~0.7 µs of a cached review's ~23 µs in the server, measured with
// perf: docs/performance.md "Tenth session"); three substring searches rule them out for nearly every
// review, and any body they do not rule out (or that JSON.parse refuses) goes to fastify's parser,
// which answers it exactly as before.
import type { FastifyBodyParser, FastifyInstance } from 'fastify';

/**
 * Whether `text` may hold a key secure-json-parse refuses. Its patterns match `"__proto__"` and
 * `"constructor"` (then `:`), each character written out or as a `\u` escape: without a `\u` anywhere,
 * a match needs the name written out.
 */
export function mayHoldPrototypeKey(text: string): boolean {
  return text.includes('\\u') || text.includes('__proto__') || text.includes('constructor');
}

/** A JSON.parse that threw (its error is fastify's parser's to report). */
const UNPARSED = Symbol('unparsed');

/** Installs the parser on `app` for application/json, in place of fastify's default. */
export function parseJsonBodies(app: FastifyInstance): void {
  const { onProtoPoisoning, onConstructorPoisoning } = app.initialConfig;
  const fastifys = app.getDefaultJsonParser(onProtoPoisoning ?? 'error', onConstructorPoisoning ?? 'error');
  const parse: FastifyBodyParser<string> = (request, body, done) => {
    if (body.length > 0 && !mayHoldPrototypeKey(body)) {
      const parsed = parsedOrNot(body);
      if (parsed !== UNPARSED) {
        done(null, parsed);
        return;
      }
    }
    fastifys(request, body, done);
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parse);
}

function parsedOrNot(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return UNPARSED;
  }
}
