// One HTTP exchange (src/oci/http-exchange.ts) against a real registry (Debian's docker-registry): once
// settled, its handler lets go of the request and the response. undici can keep a finished handler
// reachable for a while; what the handler still held was then promoted and paid for by a full
// collection on every cold verification (docs/performance.md, "Cold path, ninth session").
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent, type Dispatcher } from 'undici';
import { exchange } from '../../src/oci/http-exchange.ts';
import { startDockerRegistry } from '../support/docker-registry.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Hands every request to `agent`, and keeps each handler it was given, as undici may for a while. */
function keepingHandlers(agent: Agent): { dispatcher: Dispatcher; handlers: unknown[] } {
  const handlers: unknown[] = [];
  const dispatcher = {
    dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      handlers.push(handler);
      return agent.dispatch(options, handler);
    },
  } as unknown as Dispatcher;
  return { dispatcher, handlers };
}

/**
 * A real registry, a dispatcher keeping every handler it is given (closed after the test), and what a
 * FinalizationRegistry has seen collected: the names it was registered with.
 */
async function watched(t: TestContext) {
  const registry = await startDockerRegistry();
  t.after(() => registry.stop());
  const agent = new Agent();
  t.after(() => agent.close());
  const collected = new Set<string>();
  const finalization = new FinalizationRegistry((what: string) => collected.add(what));
  return { registry, ...keepingHandlers(agent), collected, finalization };
}

/** Collections and turns of the event loop until `done()`, at most `rounds` (finalizers run in turns). */
async function collectUntil(done: () => boolean, rounds = 20): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('a settled exchange holds nothing of its response: its headers and body are collected while the handler is still reachable', async (t) => {
  const { registry, dispatcher, handlers, collected, finalization } = await watched(t);
  for (const [status, path] of [
    [200, '/v2/'],
    [404, '/v2/nothing/here/manifests/latest'],
  ] as const) {
    await (async () => {
      const response = await exchange(dispatcher, {
        url: new URL(`http://${registry.host}${path}`),
        method: 'GET',
        headers: { accept: 'application/json' },
        maxBytes: 1024 * 1024,
        errorBodyLimit: 64 * 1024,
        signal: new AbortController().signal,
      });
      assert.equal(response.status, status);
      finalization.register(response.headers, `${status} headers`);
      finalization.register(response.body, `${status} body`);
    })();
  }
  await collectUntil(() => collected.size === 4);
  assert.equal(handlers.length, 2, 'the handlers are still reachable');
  assert.deepEqual([...collected].sort(), ['200 body', '200 headers', '404 body', '404 headers']);
});

test('a failed exchange holds nothing of its request either: an abort settles it and lets go', async (t) => {
  const { registry, dispatcher, handlers, collected, finalization } = await watched(t);
  await (async () => {
    const controller = new AbortController();
    const url = new URL(`http://${registry.host}/v2/`);
    const headers = { accept: 'application/json' };
    const pending = exchange(dispatcher, {
      url,
      method: 'GET',
      headers,
      maxBytes: 1024 * 1024,
      errorBodyLimit: 64 * 1024,
      signal: controller.signal,
    });
    controller.abort(new Error('abandoned by the test'));
    await assert.rejects(pending, /abandoned by the test/);
    finalization.register(url, 'url');
    finalization.register(headers, 'request headers');
  })();
  await collectUntil(() => collected.size === 2);
  assert.equal(handlers.length, 1, 'the handler is still reachable');
  assert.deepEqual([...collected].sort(), ['request headers', 'url']);
});
