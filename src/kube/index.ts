// The public face of src/kube: everything sigward reads from or writes to the apiserver.
export { loadKubeConfig, kubeConfigAvailable } from './kubeconfig.ts';
export {
  KubeClient,
  KubeApiError,
  statusOf,
  CoreApi,
  CustomObjectsApi,
  EventsApi,
  LeaseApi,
} from './client/index.ts';
export { ResourceInformer, type BackoffSettings, type InformerEvents } from './informer.ts';
export { buildSnapshot, type CompiledResource, type PolicySnapshot, type ResourceKind } from './snapshot.ts';
export { FilePolicySource, readPolicyDirectory } from './file-source.ts';
export { ClusterPolicySource, type ClusterPolicySourceEvents } from './cluster-source.ts';
export { PullSecretKeychains, type WorkloadCredentials } from './pull-secrets.ts';
export { SecretPublicKeys } from './public-keys.ts';
export { LeaderElector, type LeaderOptions } from './leader.ts';
export { EventRecorder, EVENT_REASONS, type WorkloadFinding } from './events.ts';
export { NamespaceLabels } from './namespaces.ts';
export { ConfigMapWatch, type ConfigMapRef } from './configmaps.ts';
export {
  listNamespaceLabels,
  listRunningPods,
  ownerOf,
  type RunningPod,
  type WorkloadOwner,
} from './workloads.ts';
export { recordPolicyFindings, POLICY_EVENT_REASONS, type ForeignPolicy } from './policy-events.ts';
export { RunningPods, podView, type PodView } from './running-pods.ts';
export { buildPolicyReport, reportResultOf, REPORT_NAME, type PolicyReport } from './policy-report.ts';
export { PolicyReportWriter } from './policy-report-writer.ts';
export { TokenBucket } from './token-bucket.ts';
