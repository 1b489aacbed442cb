// One HTTP exchange (src/oci/http-exchange.ts) against a real registry (Debian's docker-registry): once
// settled, its handler lets go of the request and the response. undici can keep a finished handler
// reachable for a while; what the handler still held was then promoted and paid for by a full
// collection on every cold verification (docs/performance.md, "Cold path, ninth session").
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, type Dispatcher } from 'undici';
import { exchange } from '../../src/oci/http-exchange.ts';
import { collectionWatch } from '../support/collected.ts';
import { startDockerRegistry } from '../support/docker-registry.ts';

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

/** A real registry, a dispatcher keeping every handler it is given (closed after the test), and a watch. */
async function watched(t: TestContext) {
  const registry = await startDockerRegistry();
  t.after(() => registry.stop());
  const agent = new Agent();
  t.after(() => agent.close());
  return { registry, ...keepingHandlers(agent), watch: collectionWatch() };
}

test('a settled exchange holds nothing of its response: its headers and body are collected while the handler is still reachable', async (t) => {
  const { registry, dispatcher, handlers, watch } = await watched(t);
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
      watch.watch(response.headers, `${status} headers`);
      watch.watch(response.body, `${status} body`);
    })();
  }
  const expected = ['200 body', '200 headers', '404 body', '404 headers'];
  const collected = await watch.collectedOf(expected);
  assert.equal(handlers.length, 2, 'the handlers are still reachable');
  assert.deepEqual(collected, expected);
});

test('a failed exchange holds nothing of its request either: an abort settles it and lets go', async (t) => {
  const { registry, dispatcher, handlers, watch } = await watched(t);
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
    watch.watch(url, 'url');
    watch.watch(headers, 'request headers');
  })();
  const collected = await watch.collectedOf(['request headers', 'url']);
  assert.equal(handlers.length, 1, 'the handler is still reachable');
  assert.deepEqual(collected, ['request headers', 'url']);
});
