// sigward's own Kubernetes client pointed at a plain-HTTP stand-in on loopback, without credentials.
import { anonymous } from '../../src/kube/client/connection.ts';
import { KubeClient } from '../../src/kube/client/http.ts';
import type { KubeClientOptions } from '../../src/kube/client/http.ts';

export function plainKubeClient(port: number, options: KubeClientOptions = {}): KubeClient {
  return new KubeClient(
    { server: `http://127.0.0.1:${port}`, auth: anonymous, source: 'a test stand-in' },
    options,
  );
}
