// Where the apiserver is: a kubeconfig file when given, the in-cluster service account inside a pod,
// else the default kubeconfig ($KUBECONFIG, ~/.kube/config). Returns sigward's own small client
// (kube/client/): @kubernetes/client-node cost 80 MiB of RSS just to import.
import { existsSync } from 'node:fs';
import { KubeClient } from './client/http.ts';
import { inCluster, inClusterConnection } from './client/in-cluster.ts';
import { kubeconfigFiles, loadKubeconfigFiles } from './client/kubeconfig-file.ts';

export function loadKubeConfig(file?: string): KubeClient {
  if (file === undefined && inCluster()) return new KubeClient(inClusterConnection());
  return new KubeClient(loadKubeconfigFiles(kubeconfigFiles(file)));
}

/** Is there an apiserver to talk to (a kubeconfig with a current cluster, or in-cluster)? */
export function kubeConfigAvailable(file?: string): boolean {
  if (file !== undefined) return true;
  if (inCluster()) return true;
  const env = process.env['KUBECONFIG'];
  if (env !== undefined && env.split(':').some((f) => f !== '' && existsSync(f))) return true;
  const home = process.env['HOME'];
  return home !== undefined && existsSync(`${home}/.kube/config`);
}
