// Readiness probes: does something answer on this URL yet?
import http from 'node:http';
import https from 'node:https';

export interface ProbeOptions {
  /** PEM CA for https URLs with a private certificate. */
  ca?: string | Buffer;
  /** Client certificate and key, for servers that want one (the apiserver's /readyz with RBAC). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Which statuses count as ready: 2xx by default. */
  ok?: (status: number) => boolean;
}

/** GET the URL once; true when it answers with an accepted status. Network errors are "not yet". */
export function answers(url: string, options: ProbeOptions = {}): Promise<boolean> {
  const ok = options.ok ?? ((status) => status >= 200 && status < 300);
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve) => {
    const request = client.get(
      url,
      { ca: options.ca, cert: options.cert, key: options.key, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(ok(res.statusCode ?? 0));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}
