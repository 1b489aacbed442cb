// The app writes a review's admission line and metrics after the responses of the event loop's turn
// (src/server/after-responses.ts, one setImmediate per turn). Immediates run in the order they were
// set, so one set after a request was answered runs after that work: no sleep, an ordering.
import type { FastifyInstance } from 'fastify';

/** Resolves once every immediate set before this call has run. */
export const turnEnd = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The app, its `inject(options)` resolving once the request's after-response work is done. */
export function injectAfterTurn<A extends FastifyInstance>(app: A): A {
  const inject = app.inject.bind(app) as (options: object) => Promise<unknown>;
  const injectThenTurn = async (options: object): Promise<unknown> => {
    const response = await inject(options);
    await turnEnd();
    return response;
  };
  (app as { inject: unknown }).inject = injectThenTurn;
  return app;
}
