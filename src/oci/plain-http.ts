// Which hosts may be reached over plain HTTP: loopback by default (as go-containerregistry does), and
// registries an operator lists as insecure. Everything else is HTTPS.

/** 127.0.0.0/8, localhost and [::1], as a URL spells its hostname (URL normalises `127.1`, `[0::1]`). */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface PlainHttpPolicy {
  /** Loopback hosts may use plain HTTP. */
  readonly loopback: boolean;
  /** Lower-case `host` or `host:port` entries that may use plain HTTP. */
  readonly insecure: ReadonlySet<string>;
}

/** Whether this URL's host may be reached over plain HTTP under the policy. */
export function plainHttpAllowed(url: URL, policy: PlainHttpPolicy): boolean {
  if (policy.loopback && isLoopbackHostname(url.hostname)) return true;
  return policy.insecure.has(url.host.toLowerCase()) || policy.insecure.has(url.hostname.toLowerCase());
}

/**
 * Whether a URL a registry gave (a redirect, an upload Location, a next-page Link) leads onto this
 * host's loopback somewhere other than `registryOrigin`, for a registry not itself named on loopback:
 * refused, so a hostile registry cannot steer sigward to its own pod's ports (metrics, sidecars) and
 * read their answers back in a denial.
 */
export function steeredToLoopback(to: URL, registryOrigin: string): boolean {
  return isLoopbackHostname(to.hostname) && to.origin !== registryOrigin;
}
