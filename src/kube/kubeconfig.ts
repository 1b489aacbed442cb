// Where the apiserver is: a kubeconfig file when given, the in-cluster service account inside a pod,
// else the default kubeconfig ($KUBECONFIG, ~/.kube/config).
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function loadKubeConfig(file?: string): KubeConfig {
  const config = new KubeConfig();
  if (file !== undefined) config.loadFromFile(file);
  else if ((process.env['KUBERNETES_SERVICE_HOST'] ?? '') !== '' && existsSync(IN_CLUSTER_TOKEN))
    config.loadFromCluster();
  else config.loadFromDefault();
  return config;
}

/** Is there an apiserver to talk to (a kubeconfig with a current cluster, or in-cluster)? */
export function kubeConfigAvailable(file?: string): boolean {
  if (file !== undefined) return true;
  if ((process.env['KUBERNETES_SERVICE_HOST'] ?? '') !== '' && existsSync(IN_CLUSTER_TOKEN)) return true;
  const env = process.env['KUBECONFIG'];
  if (env !== undefined && env.split(':').some((f) => f !== '' && existsSync(f))) return true;
  const home = process.env['HOME'];
  return home !== undefined && existsSync(`${home}/.kube/config`);
}
