// A kubeconfig user's `exec` credential plugin (client.authentication.k8s.io v1 and v1beta1), run as
// kubectl and client-go run it: the command without a shell (a relative path with a slash resolved
// against the kubeconfig's directory, a bare name looked up on PATH), its args, the process environment
// plus the entry's `env`, and KUBERNETES_EXEC_INFO describing the request (never interactive: sigward has
// no terminal to lend it). Its ExecCredential answer gives a bearer token or a client certificate and
// key, cached until `status.expirationTimestamp` (for the process's life without one) and fetched again
// after a 401. Bounded (60 s, 1 MiB of output) and single-flight. Neither the token, the key nor the
// plugin's output appears in an error: only the entry's name, the command and what was wrong.
import path from 'node:path';
import { SigwardError } from '../../errors.ts';
import { describeOutcome, runProgram, safeExcerpt } from '../../exec-credentials/run-program.ts';
import type { Authenticator, RequestCredentials } from './connection.ts';

export const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** The `user.exec` entry of a kubeconfig, checked. */
export interface ExecConfig {
  readonly apiVersion: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly installHint?: string;
  readonly interactiveMode?: string;
  readonly provideClusterInfo?: boolean;
}

export interface ExecContext {
  /** The kubeconfig user entry's name, for messages. */
  readonly user: string;
  /** The kubeconfig file the entry came from (relative commands resolve against its directory). */
  readonly file: string;
  /** Sent in KUBERNETES_EXEC_INFO when the entry asks for `provideClusterInfo`. */
  readonly cluster: {
    readonly server: string;
    readonly caData?: string;
    readonly insecureSkipTlsVerify?: boolean;
    readonly tlsServerName?: string;
  };
  /** Defaults: 60 s, 1 MiB; the clock in ms since the epoch (tests). */
  readonly timeoutMs?: number;
  readonly maxOutputBytes?: number;
  readonly now?: () => number;
}

interface Issued {
  readonly credentials: RequestCredentials;
  /** ms since the epoch; undefined: valid until a 401 says otherwise. */
  readonly expiresAt: number | undefined;
}

const DOCS =
  'https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins';

export function execAuthenticator(exec: ExecConfig, context: ExecContext): Authenticator {
  const now = context.now ?? Date.now;
  let issued: Issued | undefined;
  let running: Promise<Issued> | undefined;
  return {
    async current() {
      if (issued !== undefined && (issued.expiresAt === undefined || issued.expiresAt > now()))
        return issued.credentials;
      running ??= runPlugin(exec, context, now).finally(() => (running = undefined));
      issued = await running;
      return issued.credentials;
    },
    invalidate() {
      issued = undefined;
    },
  };
}

async function runPlugin(exec: ExecConfig, context: ExecContext, now: () => number): Promise<Issued> {
  const who = `the exec credential plugin ${exec.command} of kubeconfig user "${context.user}"`;
  const fail = (why: string, cause?: unknown): SigwardError =>
    new SigwardError('KUBE_EXEC_PLUGIN_FAILED', `${who} ${why}`, cause === undefined ? {} : { cause });
  if (exec.interactiveMode === 'Always')
    throw fail(
      'needs an interactive terminal (interactiveMode: Always), which sigward never has: use a plugin mode or credential that works without one',
    );
  const command =
    exec.command.includes('/') && !path.isAbsolute(exec.command)
      ? path.resolve(path.dirname(context.file), exec.command)
      : exec.command;
  const timeoutMs = context.timeoutMs ?? 60_000;
  const info = {
    apiVersion: exec.apiVersion,
    kind: 'ExecCredential',
    spec: {
      interactive: false,
      ...(exec.provideClusterInfo === true
        ? {
            cluster: {
              server: context.cluster.server,
              ...(context.cluster.tlsServerName === undefined
                ? {}
                : { 'tls-server-name': context.cluster.tlsServerName }),
              ...(context.cluster.insecureSkipTlsVerify === true ? { 'insecure-skip-tls-verify': true } : {}),
              ...(context.cluster.caData === undefined
                ? {}
                : { 'certificate-authority-data': context.cluster.caData }),
            },
          }
        : {}),
    },
  };
  const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
  for (const { name, value } of exec.env) env[name] = value;
  const outcome = await runProgram({
    command,
    args: exec.args,
    stdin: '',
    env,
    timeoutMs,
    maxOutputBytes: context.maxOutputBytes ?? 1024 * 1024,
  });
  if (outcome.kind === 'not-started') {
    const hint =
      exec.installHint === undefined || exec.installHint.trim() === '' ? '' : ` ${exec.installHint.trim()}`;
    throw fail(
      outcome.reason === 'ENOENT'
        ? `is not installed (executable ${command} not found${exec.command.includes('/') ? '' : ' on PATH'}); see ${DOCS}.${hint}`
        : `could not be started (${outcome.reason}).${hint}`,
    );
  }
  if (outcome.kind !== 'exited') throw fail(describeOutcome(outcome, timeoutMs));
  if (outcome.code !== 0) {
    const said = safeExcerpt(outcome.stderr);
    throw fail(`exited with code ${outcome.code}${said === '' ? '' : `: ${said}`}`);
  }
  return issuedFrom(outcome.stdout, exec.apiVersion, now, fail);
}

/** The ExecCredential the plugin printed, checked as client-go checks it. */
function issuedFrom(
  stdout: Buffer,
  apiVersion: string,
  now: () => number,
  fail: (why: string) => SigwardError,
): Issued {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.toString('utf8'));
  } catch {
    throw fail('printed something that is not JSON (an ExecCredential was expected)');
  }
  const answer = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (answer['kind'] !== 'ExecCredential')
    throw fail(`printed kind ${JSON.stringify(answer['kind'] ?? null)}, not an ExecCredential`);
  if (answer['apiVersion'] !== apiVersion)
    throw fail(
      `answered with apiVersion ${JSON.stringify(answer['apiVersion'] ?? null)}; the kubeconfig asks for ${apiVersion}`,
    );
  const status = answer['status'];
  if (typeof status !== 'object' || status === null) throw fail('printed an ExecCredential without a status');
  const {
    token,
    clientCertificateData: cert,
    clientKeyData: key,
    expirationTimestamp,
  } = status as Record<string, unknown>;
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  if ((text(cert) === undefined) !== (text(key) === undefined))
    throw fail('returned only one of clientCertificateData and clientKeyData (both or neither are needed)');
  if (text(token) === undefined && text(cert) === undefined)
    throw fail('returned neither a token nor a client certificate and key');
  let expiresAt: number | undefined;
  if (expirationTimestamp !== undefined && expirationTimestamp !== null) {
    expiresAt = typeof expirationTimestamp === 'string' ? Date.parse(expirationTimestamp) : Number.NaN;
    if (Number.isNaN(expiresAt))
      throw fail(
        `returned an expirationTimestamp that is not an RFC 3339 time: ${String(expirationTimestamp).slice(0, 64)}`,
      );
    if (expiresAt <= now())
      throw fail(
        `returned a credential that had already expired (expirationTimestamp ${String(expirationTimestamp)})`,
      );
  }
  return {
    credentials: {
      headers: text(token) === undefined ? {} : { authorization: `Bearer ${text(token)}` },
      ...(text(cert) === undefined ? {} : { cert: text(cert), key: text(key) }),
    },
    expiresAt,
  };
}
