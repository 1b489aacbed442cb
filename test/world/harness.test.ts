// The world harness's own promises: a service is ready only when it answers, a service that dies says
// why in one error with its log, a missing tool and a port clash are one clear line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startService } from '../../e2e/world/process.ts';
import { answers } from '../../e2e/world/probe.ts';
import { freePort, requestedPort } from '../../e2e/world/ports.ts';
import { createRunDir } from '../../e2e/world/run-dir.ts';
import { goTool, debianTool } from '../../e2e/world/tools.ts';
import { WorldError } from '../../e2e/world/errors.ts';

const node = process.execPath;

test('a service is ready once its probe answers, and stop ends it', async (t) => {
  const dir = createRunDir();
  t.after(() => dir.remove());
  const port = await freePort();
  const server = `require('node:http').createServer((q, r) => r.end('ok')).listen(${port}, '127.0.0.1')`;
  const service = await startService({
    name: 'tiny-http',
    command: node,
    args: ['-e', server],
    logDir: dir.logs,
    ready: () => answers(`http://127.0.0.1:${port}/`),
  });
  assert.equal(await answers(`http://127.0.0.1:${port}/`), true);
  await service.stop();
  await service.exited;
  assert.equal(await answers(`http://127.0.0.1:${port}/`), false);
});

test('a service that exits before it is ready is an error carrying its log', async (t) => {
  const dir = createRunDir();
  t.after(() => dir.remove());
  await assert.rejects(
    startService({
      name: 'dies',
      command: node,
      args: ['-e', "console.error('bad flag --frobnicate'); process.exit(3)"],
      logDir: dir.logs,
      ready: async () => false,
    }),
    (error: unknown) =>
      error instanceof WorldError &&
      error.code === 'SERVICE_EXITED' &&
      /dies exited \(code 3\)/.test(error.message) &&
      /bad flag --frobnicate/.test(error.message),
  );
});

test('a command that does not exist is one clear error', async (t) => {
  const dir = createRunDir();
  t.after(() => dir.remove());
  await assert.rejects(
    startService({
      name: 'ghost',
      command: '/nonexistent/ghost-binary',
      args: [],
      logDir: dir.logs,
      ready: async () => true,
    }),
    (error: unknown) =>
      error instanceof WorldError && error.code === 'SERVICE_SPAWN' && /ghost/.test(error.message),
  );
});

test('a requested port that is taken is one line naming the setting to change', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const taken = (blocker.address() as net.AddressInfo).port;
  await assert.rejects(requestedPort(taken, 'SIGWARD_STACK_REGISTRY_PORT'), (error: unknown) => {
    assert.ok(error instanceof WorldError);
    assert.equal(error.code, 'PORT_IN_USE');
    assert.equal(
      error.message,
      `port ${taken} on 127.0.0.1 is already in use: stop what uses it or set SIGWARD_STACK_REGISTRY_PORT to another port`,
    );
    return true;
  });
});

test('free ports are not handed out twice', async () => {
  const ports = new Set<number>();
  for (let i = 0; i < 20; i++) ports.add(await freePort());
  assert.equal(ports.size, 20);
});

test('missing tools say how to get them', () => {
  assert.throws(
    () => debianTool('no-such-tool-sigward', 'no-such-package'),
    /no-such-tool-sigward is missing: apt-get install -y no-such-package/,
  );
  const empty = createRunDir('sigward-no-tools-');
  try {
    assert.throws(() => goTool('kube-apiserver', empty.root), {
      message: 'kube-apiserver is not built yet: run `npm run e2e:tools` (it caches the build)',
    });
    assert.throws(
      () => goTool('cosign2', empty.root),
      /cosign2 is not built yet: run `npm run e2e:tools:full`/,
    );
  } finally {
    empty.remove();
  }
});
