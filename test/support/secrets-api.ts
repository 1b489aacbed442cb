// A small stand-in for the apiserver's Secret `get` (the only Secret verb sigward holds), for sigward's
// real Kubernetes client (kube/client): secrets are set, replaced and deleted by the test, every read
// is recorded, and an unknown secret answers 404 with a Status body as the apiserver does. The real
// apiserver is in e2e/key-secrets.e2e.ts.
import http from 'node:http';
import { CoreApi } from '../../src/kube/client/apis.ts';
import { plainKubeClient } from './kube-client.ts';

export interface SecretsApi {
  readonly core: CoreApi;
  /** `namespace/name` of every read, in order. */
  readonly reads: string[];
  /** Creates or replaces a secret (values are plain text; base64-encoded as the apiserver stores them). */
  set(namespace: string, name: string, data: Readonly<Record<string, string>>, type?: string): void;
  delete(namespace: string, name: string): void;
  close(): Promise<void>;
}

export async function startSecretsApi(): Promise<SecretsApi> {
  const secrets = new Map<string, { type: string; data: Record<string, string> }>();
  const reads: string[] = [];
  const server = http.createServer((req, res) => {
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/?]+)$/.exec(req.url ?? '');
    const id = match === null ? undefined : `${match[1]}/${match[2]}`;
    if (req.method !== 'GET' || id === undefined) {
      res.writeHead(405, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', status: 'Failure', code: 405, reason: 'MethodNotAllowed' }));
      return;
    }
    reads.push(id);
    const secret = secrets.get(id);
    res.writeHead(secret === undefined ? 404 : 200, { 'content-type': 'application/json' });
    const [namespace, name] = id.split('/');
    res.end(
      JSON.stringify(
        secret === undefined
          ? {
              kind: 'Status',
              apiVersion: 'v1',
              status: 'Failure',
              message: `secrets "${name}" not found`,
              reason: 'NotFound',
              code: 404,
            }
          : { kind: 'Secret', apiVersion: 'v1', metadata: { name, namespace }, ...secret },
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const client = plainKubeClient(port);
  return {
    core: new CoreApi(client),
    reads,
    set(namespace, name, data, type = 'Opaque') {
      const encoded = Object.fromEntries(
        Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      );
      secrets.set(`${namespace}/${name}`, { type, data: encoded });
    },
    delete(namespace, name) {
      secrets.delete(`${namespace}/${name}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        void client.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
