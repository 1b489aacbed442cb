// Where the apiserver is and how to prove who we are: the one shape the kubeconfig reader and the
// in-cluster reader both produce, and the only thing the HTTP client needs.

/** What one request carries to authenticate: headers, and a client certificate for the TLS handshake. */
export interface RequestCredentials {
  readonly headers: Readonly<Record<string, string>>;
  /** PEM client certificate and key (from the kubeconfig or an exec plugin). */
  readonly cert?: string;
  readonly key?: string;
}

export interface Authenticator {
  /** The credentials for the next request (re-read or re-run when they expire). */
  current(): Promise<RequestCredentials>;
  /** The apiserver answered 401: forget cached credentials so the next request fetches fresh ones. */
  invalidate(): void;
}

export interface KubeConnection {
  /** `https://host:port` (a path prefix kept, no trailing slash). */
  readonly server: string;
  /** PEM CA certificates to trust for the apiserver (undefined: the system's). */
  readonly ca?: string;
  /** Only when the kubeconfig says `insecure-skip-tls-verify: true`. */
  readonly insecureSkipTlsVerify?: boolean;
  /** `tls-server-name`: the name to check the serving certificate against, when not the host. */
  readonly tlsServerName?: string;
  /** The context's namespace (in-cluster: the pod's own). */
  readonly namespace?: string;
  readonly auth: Authenticator;
  /** Where this came from, for messages: `kubeconfig /path (context c)` or `in-cluster service account`. */
  readonly source: string;
}

export const anonymous: Authenticator = {
  current: () => Promise.resolve({ headers: {} }),
  invalidate: () => undefined,
};

/** Credentials that never change (token, basic auth, client certificate from the kubeconfig). */
export function staticAuthenticator(credentials: RequestCredentials): Authenticator {
  return { current: () => Promise.resolve(credentials), invalidate: () => undefined };
}
