// What the client does when the apiserver does not answer (kube/client/http.ts): a server that accepts
// and stays silent is cut off at the request deadline, a refused connection says so, and a watch event
// larger than the cap is refused. The real apiserver's refusals are in e2e/kube-client.e2e.ts.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { SigwardError } from '../../../src/errors.ts';
import { plainKubeClient } from '../../support/kube-client.ts';

async function listening(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}
function failsWith(code: string, message: RegExp) {
  return (e: unknown) => e instanceof SigwardError && e.code === code && message.test(e.message);
}

test('an apiserver that accepts and never answers is cut off at the request deadline', async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((socket) => void sockets.push(socket));
  const client = plainKubeClient(await listening(silent), { requestTimeoutMs: 200 });
  try {
    await assert.rejects(
      client.request('GET', '/api/v1/namespaces'),
      failsWith(
        'KUBE_TIMEOUT',
        /GET 127\.0\.0\.1:\d+\/api\/v1\/namespaces: the apiserver did not answer in time/,
      ),
    );
  } finally {
    await client.close();
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test('a refused connection is KUBE_UNAVAILABLE naming the request', async () => {
  const closed = net.createServer();
  const port = await listening(closed);
  await new Promise<void>((r) => closed.close(() => r()));
  const client = plainKubeClient(port);
  await assert.rejects(
    client.request('GET', '/api/v1/pods'),
    failsWith('KUBE_UNAVAILABLE', /GET 127\.0\.0\.1:\d+\/api\/v1\/pods: the connection was refused/),
  );
  await client.close();
});

test('a watch event over the size cap is refused; a body that is not JSON is named', async () => {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url?.includes('watch=true')) res.write(`{"type":"ADDED","object":{"data":"${'x'.repeat(4096)}`);
    else res.end('<html>a proxy page</html>');
  });
  const client = plainKubeClient(await listening(server), { maxResponseBytes: 1024 });
  try {
    await assert.rejects(
      client.watch('/api/v1/configmaps', {}, () => undefined, new AbortController().signal, 5000),
      failsWith('KUBE_RESPONSE_TOO_LARGE', /WATCH .*\/api\/v1\/configmaps: the answer exceeds 1024 bytes/),
    );
    await assert.rejects(
      client.request('GET', '/api/v1/configmaps'),
      failsWith('KUBE_BAD_RESPONSE', /the answer is not JSON/),
    );
  } finally {
    await client.close();
    server.closeAllConnections();
    server.close();
  }
});
