// sigward's Kubernetes client: connection settings (kubeconfig, in-cluster), HTTP with a typed error,
// and the few typed requests it makes.
export { KubeClient, type KubeClientOptions, type WatchEvent } from './http.ts';
export { KubeApiError, statusOf } from './errors.ts';
export type { KubeConnection, Authenticator, RequestCredentials } from './connection.ts';
export { inCluster, inClusterConnection, SERVICE_ACCOUNT_DIR } from './in-cluster.ts';
export { kubeconfigFiles, loadKubeconfigFiles } from './kubeconfig-file.ts';
export { CoreApi, CustomObjectsApi, EventsApi, LeaseApi } from './apis.ts';
export * from './resources.ts';
