// Where `sigward sign` gets its OIDC identity token. Sources, in the order they are tried when none is
// named (explicit first, then the ambient ones of CI systems, then the Kubernetes default path):
//   1. identity-token   `--identity-token` (a JWT, or a file holding one; a file is re-read on every use)
//   2. env / gitlab     `SIGSTORE_ID_TOKEN` (GitLab CI's `id_tokens:` puts it there; named gitlab when GITLAB_CI=true)
//   3. github-actions   the Actions ID-token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN; `permissions: id-token: write`)
//   4. kubernetes       a projected service-account token file with audience `sigstore`, by default
//                       /var/run/sigstore/cosign/oidc-token (the path of cosign's and policy-controller's
//                       docs); re-read on every use because the kubelet rotates it.
// `--oidc-provider NAME` picks one and fails when it is not there. A token never appears in a message.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { SignerError, SignerErrorCode, scrub } from './errors.ts';
import { looksLikeJwt } from './token-claims.ts';

export const DEFAULT_KUBERNETES_TOKEN_PATH = '/var/run/sigstore/cosign/oidc-token';
export const DEFAULT_AUDIENCE = 'sigstore';

export const PROVIDER_NAMES = ['identity-token', 'env', 'gitlab', 'github-actions', 'kubernetes'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export interface IdentityTokenProvider {
  readonly name: ProviderName;
  /** Where the token comes from, in words safe to print. */
  readonly source: string;
  getToken(signal?: AbortSignal): Promise<string>;
}

export interface ProviderOptions {
  /** Use only this provider. */
  readonly provider?: ProviderName;
  /** `--identity-token`: a JWT or the path of a file holding one. */
  readonly identityToken?: string;
  readonly kubernetesTokenPath?: string;
  /** Audience asked of the GitHub Actions endpoint. Default `sigstore`. */
  readonly audience?: string;
  /** Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default the global fetch (GitHub Actions only). */
  readonly fetch?: typeof fetch;
  /** Bound on the GitHub Actions ID-token request, answer included. Default 30 s. */
  readonly requestTimeoutMs?: number;
}

function missing(message: string): SignerError {
  return new SignerError(SignerErrorCode.tokenMissing, message);
}

/** A token file, read again on every call; an empty or unreadable file is an error naming the path. */
function fileProvider(name: ProviderName, path: string, what: string): IdentityTokenProvider {
  const source = `${what} ${path}`;
  return {
    name,
    source,
    async getToken() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        throw new SignerError(
          SignerErrorCode.tokenMissing,
          `cannot read ${source}${typeof code === 'string' ? ` (${code})` : ''}`,
          { details: { source } },
        );
      }
      const token = text.trim();
      if (token.length === 0) throw missing(`${source} is empty`);
      return token;
    },
  };
}

function valueProvider(name: ProviderName, source: string, value: string): IdentityTokenProvider {
  return { name, source, getToken: () => Promise.resolve(value.trim()) };
}

function identityTokenProvider(value: string): IdentityTokenProvider {
  if (looksLikeJwt(value)) return valueProvider('identity-token', '--identity-token', value);
  if (existsSync(value)) return fileProvider('identity-token', value, '--identity-token file');
  // Neither a JWT nor a file: the value may be a mistyped secret, so it is not repeated.
  throw missing('--identity-token is neither a JWT nor the path of a readable file');
}

function githubProvider(
  url: string,
  requestToken: string,
  audience: string,
  fetcher: typeof fetch,
  timeoutMs: number,
): IdentityTokenProvider {
  const source = 'the GitHub Actions ID-token endpoint';
  return {
    name: 'github-actions',
    source,
    async getToken(signal) {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        throw missing('ACTIONS_ID_TOKEN_REQUEST_URL is not a URL');
      }
      target.searchParams.set('audience', audience);
      // Bounded on its own: an endpoint that never answers must not hold the signer forever.
      const deadline = AbortSignal.timeout(timeoutMs);
      const bounded = signal === undefined ? deadline : AbortSignal.any([deadline, signal]);
      const timedOut = (): SignerError =>
        new SignerError(
          SignerErrorCode.tokenMissing,
          `${source} did not answer within ${timeoutMs / 1000} s`,
        );
      let response: Response;
      try {
        response = await fetcher(target, {
          headers: { authorization: `bearer ${requestToken}`, accept: 'application/json' },
          signal: bounded,
        });
      } catch (error) {
        if (deadline.aborted) throw timedOut();
        throw new SignerError(SignerErrorCode.tokenMissing, `${source} cannot be reached`, {
          cause: new Error(scrub(String(error), [requestToken])),
        });
      }
      if (!response.ok) {
        throw new SignerError(
          SignerErrorCode.tokenMissing,
          `${source} answered HTTP ${response.status} (does the job have permissions: id-token: write?)`,
          { details: { status: response.status } },
        );
      }
      const body = (await response.json().catch(() => undefined)) as { value?: unknown } | undefined;
      if (deadline.aborted) throw timedOut();
      if (typeof body?.value !== 'string' || body.value.length === 0) {
        throw new SignerError(SignerErrorCode.tokenInvalid, `${source} returned no token`);
      }
      return body.value;
    },
  };
}

/** Every provider that is configured in this environment, in the documented order. */
export function availableProviders(options: ProviderOptions = {}): IdentityTokenProvider[] {
  const env = options.env ?? process.env;
  const found: IdentityTokenProvider[] = [];
  if (options.identityToken !== undefined && options.identityToken.length > 0) {
    found.push(identityTokenProvider(options.identityToken));
  }
  const sigstoreToken = env['SIGSTORE_ID_TOKEN'];
  if (sigstoreToken !== undefined && sigstoreToken.trim().length > 0) {
    const gitlab = env['GITLAB_CI'] === 'true';
    found.push(
      valueProvider(
        gitlab ? 'gitlab' : 'env',
        gitlab ? "GitLab CI's SIGSTORE_ID_TOKEN" : 'SIGSTORE_ID_TOKEN',
        sigstoreToken,
      ),
    );
  }
  const requestUrl = env['ACTIONS_ID_TOKEN_REQUEST_URL'];
  const requestToken = env['ACTIONS_ID_TOKEN_REQUEST_TOKEN'];
  if (requestUrl && requestToken) {
    found.push(
      githubProvider(
        requestUrl,
        requestToken,
        options.audience ?? DEFAULT_AUDIENCE,
        options.fetch ?? fetch,
        options.requestTimeoutMs ?? 30_000,
      ),
    );
  }
  const kubernetesPath = options.kubernetesTokenPath ?? DEFAULT_KUBERNETES_TOKEN_PATH;
  if (existsSync(kubernetesPath)) {
    found.push(fileProvider('kubernetes', kubernetesPath, 'the Kubernetes service-account token file'));
  }
  return found;
}

/** The provider to use: the one named, or the first available. Throws SIGNER_TOKEN_MISSING. */
export function selectProvider(options: ProviderOptions = {}): IdentityTokenProvider {
  const wanted = options.provider;
  if (wanted === 'kubernetes') {
    const path = options.kubernetesTokenPath ?? DEFAULT_KUBERNETES_TOKEN_PATH;
    // Named explicitly: a missing file is reported when the token is read, naming the path.
    return fileProvider('kubernetes', path, 'the Kubernetes service-account token file');
  }
  const found = availableProviders(options);
  if (wanted !== undefined) {
    const hit = found.find((p) => p.name === wanted || (wanted === 'env' && p.name === 'gitlab'));
    if (hit !== undefined) return hit;
    const need: Record<ProviderName, string> = {
      'identity-token': '--identity-token',
      env: 'SIGSTORE_ID_TOKEN',
      gitlab: 'SIGSTORE_ID_TOKEN with GITLAB_CI=true (id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore)',
      'github-actions':
        'ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN (permissions: id-token: write)',
      kubernetes: 'the token file',
    };
    throw missing(`--oidc-provider ${wanted}: ${need[wanted]} is not set`);
  }
  const first = found[0];
  if (first === undefined) {
    throw missing(
      `no identity token: pass --identity-token, set SIGSTORE_ID_TOKEN, run in GitHub Actions with id-token: write, or mount a projected service-account token (audience sigstore) at ${options.kubernetesTokenPath ?? DEFAULT_KUBERNETES_TOKEN_PATH}`,
    );
  }
  return first;
}
