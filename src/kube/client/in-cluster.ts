// The pod's own service account, as client-go's rest.InClusterConfig reads it: the apiserver at
// https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6 address in brackets), trusted
// through the mounted ca.crt, authenticated with the mounted token, which the kubelet rotates in place
// and is therefore re-read (token-file.ts); the namespace from the mounted namespace file.
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import { SigwardError } from '../../errors.ts';
import type { KubeConnection } from './connection.ts';
import { tokenFileAuthenticator } from './token-file.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface InClusterSource {
  /** Default: the process environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where token, ca.crt and namespace are mounted. Default SERVICE_ACCOUNT_DIR. */
  readonly dir?: string;
}

/** Inside a pod: the service host is set and the token is mounted. */
export function inCluster(source: InClusterSource = {}): boolean {
  const env = source.env ?? process.env;
  return (
    (env['KUBERNETES_SERVICE_HOST'] ?? '') !== '' &&
    existsSync(path.join(source.dir ?? SERVICE_ACCOUNT_DIR, 'token'))
  );
}

export function inClusterConnection(source: InClusterSource = {}): KubeConnection {
  const env = source.env ?? process.env;
  const dir = source.dir ?? SERVICE_ACCOUNT_DIR;
  const host = env['KUBERNETES_SERVICE_HOST'] ?? '';
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '';
  if (host === '' || port === '')
    throw new SigwardError(
      'KUBE_CONFIG_INVALID',
      'not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set',
    );
  const tokenFile = path.join(dir, 'token');
  if (!existsSync(tokenFile))
    throw new SigwardError(
      'KUBE_CONFIG_INVALID',
      `not in a cluster: no service-account token at ${tokenFile}`,
    );
  let ca: string;
  try {
    ca = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
  } catch (error) {
    throw new SigwardError(
      'KUBE_CONFIG_INVALID',
      `the service account's CA ${path.join(dir, 'ca.crt')} could not be read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`,
      { cause: error },
    );
  }
  let namespace: string | undefined;
  try {
    namespace = readFileSync(path.join(dir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    namespace = undefined;
  }
  return {
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    ca,
    ...(namespace === undefined ? {} : { namespace }),
    auth: tokenFileAuthenticator(tokenFile),
    source: 'the in-cluster service account',
  };
}
