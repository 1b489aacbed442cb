// Which registry hosts are Google's private registries, read from the name alone as the kubelet's GCP
// credential provider matches them: Artifact Registry's Docker hosts (`<location>-docker.pkg.dev`)
// and Container Registry's (`gcr.io`, `<region>.gcr.io`). Pure. A host with a port, a path, more
// labels or a look-alike suffix is not Google's: no token is ever sent to it.
const gcpRegistryHost = /^(?:[a-z0-9]+(?:-[a-z0-9]+)*-docker\.pkg\.dev|(?:[a-z0-9-]+\.)?gcr\.io)$/;

/** Whether a registry host is Artifact Registry or Container Registry. */
export function isGcpRegistry(host: string): boolean {
  return gcpRegistryHost.test(host.toLowerCase());
}
