// Reads kubeconfig files the way kubectl does: `--kubeconfig FILE` alone, else every file of $KUBECONFIG
// (missing ones skipped; for each cluster, user and context name and for current-context the first file
// that sets it wins), else ~/.kube/config. Then the current context's cluster and user become a
// KubeConnection. File references (certificate-authority, client-certificate, client-key, tokenFile,
// an exec command with a slash) are relative to the file that names them. Supported users: a client
// certificate, a token or tokenFile, username/password, impersonation (`as`, `as-groups`) and an `exec`
// credential plugin; a legacy `auth-provider` is refused with a message naming the entry (kubectl
// removed them too). Errors name the files and entries, never a credential.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { SigwardError, redactUrlCredentials, withoutExcerpt } from '../../errors.ts';
import { anonymous, staticAuthenticator } from './connection.ts';
import type { Authenticator, KubeConnection, RequestCredentials } from './connection.ts';
import { EXEC_API_VERSIONS, execAuthenticator } from './exec-credential.ts';
import type { ExecConfig } from './exec-credential.ts';
import { tokenFileAuthenticator } from './token-file.ts';

type Json = Record<string, unknown>;
/** A named entry (cluster, user or context) and the file it came from. */
interface Entry {
  readonly body: Json;
  readonly file: string;
}

interface Merged {
  readonly files: readonly string[];
  currentContext?: string;
  readonly clusters: Map<string, Entry>;
  readonly users: Map<string, Entry>;
  readonly contexts: Map<string, Entry>;
}

const invalid = (message: string, cause?: unknown): SigwardError =>
  new SigwardError('KUBE_CONFIG_INVALID', message, cause === undefined ? {} : { cause });
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The kubeconfig files in effect: the named one, else $KUBECONFIG's existing ones, else ~/.kube/config. */
export function kubeconfigFiles(file?: string, env: NodeJS.ProcessEnv = process.env): string[] {
  if (file !== undefined) return [file];
  const list = env['KUBECONFIG'];
  if (list !== undefined && list !== '')
    return list.split(path.delimiter).filter((f) => f !== '' && existsSync(f));
  const home = env['HOME'];
  const fallback = home === undefined ? undefined : path.join(home, '.kube', 'config');
  return fallback !== undefined && existsSync(fallback) ? [fallback] : [];
}

export function loadKubeconfigFiles(files: readonly string[], context?: string): KubeConnection {
  if (files.length === 0)
    throw invalid('no kubeconfig found: pass --kubeconfig FILE, set $KUBECONFIG, or create ~/.kube/config');
  const merged: Merged = { files, clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) mergeFile(merged, file);
  const where = `kubeconfig ${files.join(path.delimiter)}`;
  const contextName = context ?? merged.currentContext;
  if (contextName === undefined) throw invalid(`${where} has no current-context`);
  const ctx = merged.contexts.get(contextName);
  if (ctx === undefined)
    throw invalid(`${where}: the current-context "${contextName}" is not among its contexts`);
  const clusterName = text(ctx.body['cluster']);
  if (clusterName === undefined) throw invalid(`${where}: context "${contextName}" names no cluster`);
  const cluster = merged.clusters.get(clusterName);
  if (cluster === undefined)
    throw invalid(
      `${where}: context "${contextName}" names the cluster "${clusterName}", which is not defined`,
    );
  const userName = text(ctx.body['user']);
  const user = userName === undefined ? undefined : merged.users.get(userName);
  if (userName !== undefined && user === undefined)
    throw invalid(`${where}: context "${contextName}" names the user "${userName}", which is not defined`);

  const server = text(cluster.body['server']);
  if (server === undefined) throw invalid(`${where}: cluster "${clusterName}" has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw invalid(
      `${where}: cluster "${clusterName}" has a server that is not a URL: ${redactUrlCredentials(server)}`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw invalid(
      `${where}: cluster "${clusterName}" server ${redactUrlCredentials(server)} is neither https nor http`,
    );
  if (text(cluster.body['proxy-url']) !== undefined)
    throw invalid(`${where}: cluster "${clusterName}" sets proxy-url, which sigward does not support`);
  const caData = text(cluster.body['certificate-authority-data']);
  const ca =
    caData !== undefined
      ? Buffer.from(caData, 'base64').toString('utf8')
      : readReferenced(cluster, 'certificate-authority', `cluster "${clusterName}"`);
  const tlsServerName = text(cluster.body['tls-server-name']);
  const insecure = cluster.body['insecure-skip-tls-verify'] === true;
  const namespace = text(ctx.body['namespace']);
  const auth =
    user === undefined || userName === undefined
      ? anonymous
      : authenticatorFor(userName, user, {
          server: server.replace(/\/+$/, ''),
          ...(caData === undefined
            ? ca === undefined
              ? {}
              : { caData: Buffer.from(ca).toString('base64') }
            : { caData }),
          ...(insecure ? { insecureSkipTlsVerify: true } : {}),
          ...(tlsServerName === undefined ? {} : { tlsServerName }),
        });
  return {
    server: server.replace(/\/+$/, ''),
    ...(ca === undefined ? {} : { ca }),
    ...(insecure ? { insecureSkipTlsVerify: true } : {}),
    ...(tlsServerName === undefined ? {} : { tlsServerName }),
    ...(namespace === undefined ? {} : { namespace }),
    auth,
    source: `${where} (context ${contextName})`,
  };
}

function mergeFile(merged: Merged, file: string): void {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch (error) {
    throw invalid(
      `kubeconfig ${file} could not be read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`,
      error,
    );
  }
  let doc: unknown;
  try {
    doc = raw.trim() === '' ? {} : parse(raw);
  } catch (error) {
    throw invalid(`kubeconfig ${file} is not valid YAML: ${withoutExcerpt((error as Error).message)}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObject(doc)) throw invalid(`kubeconfig ${file} is not a kubeconfig (a YAML mapping was expected)`);
  merged.currentContext ??= text(doc['current-context']);
  for (const [key, inner, into] of [
    ['clusters', 'cluster', merged.clusters],
    ['users', 'user', merged.users],
    ['contexts', 'context', merged.contexts],
  ] as const) {
    const list = doc[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw invalid(`kubeconfig ${file}: ${key} is not a list`);
    for (const [i, item] of list.entries()) {
      const name = isObject(item) ? text(item['name']) : undefined;
      if (name === undefined) throw invalid(`kubeconfig ${file}: ${key}[${i}] has no name`);
      const body = (item as Json)[inner];
      if (body !== undefined && body !== null && !isObject(body))
        throw invalid(`kubeconfig ${file}: ${key}[${i}] ("${name}") has a ${inner} that is not a mapping`);
      if (!into.has(name)) into.set(name, { body: isObject(body) ? body : {}, file });
    }
  }
}

/** A file an entry names, relative to the kubeconfig that names it; undefined when not set. */
function referencedPath(entry: Entry, field: string): string | undefined {
  const value = text(entry.body[field]);
  return value === undefined ? undefined : path.resolve(path.dirname(entry.file), value);
}

function readReferenced(entry: Entry, field: string, what: string): string | undefined {
  const file = referencedPath(entry, field);
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw invalid(
      `kubeconfig ${entry.file}: ${what} ${field} ${file} could not be read (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`,
      error,
    );
  }
}

function authenticatorFor(
  name: string,
  user: Entry,
  cluster: Parameters<typeof execAuthenticator>[1]['cluster'],
): Authenticator {
  const what = `user "${name}"`;
  const where = `kubeconfig ${user.file}`;
  const provider = user.body['auth-provider'];
  if (provider !== undefined && provider !== null) {
    const providerName = isObject(provider) ? (text(provider['name']) ?? 'unnamed') : 'unnamed';
    throw invalid(
      `${where}: ${what} uses the auth-provider "${providerName}", which kubectl and sigward no longer support: use an exec credential plugin instead (gke-gcloud-auth-plugin, kubelogin, aws eks get-token)`,
    );
  }
  const certData = text(user.body['client-certificate-data']);
  const keyData = text(user.body['client-key-data']);
  const cert =
    certData !== undefined
      ? Buffer.from(certData, 'base64').toString('utf8')
      : readReferenced(user, 'client-certificate', what);
  const key =
    keyData !== undefined
      ? Buffer.from(keyData, 'base64').toString('utf8')
      : readReferenced(user, 'client-key', what);
  if ((cert === undefined) !== (key === undefined))
    throw invalid(
      `${where}: ${what} has a client certificate without its key, or a key without its certificate`,
    );

  const token = text(user.body['token']);
  // kubectl's field is tokenFile; @kubernetes/client-node, which sigward used before, read token-file.
  const tokenFile = referencedPath(user, 'tokenFile') ?? referencedPath(user, 'token-file');
  const username = text(user.body['username']);
  const password = typeof user.body['password'] === 'string' ? user.body['password'] : undefined;
  const exec = user.body['exec'];
  const methods = [
    ...(token !== undefined || tokenFile !== undefined ? ['token'] : []),
    ...(username !== undefined ? ['username/password'] : []),
    ...(exec !== undefined && exec !== null ? ['exec'] : []),
  ];
  if (methods.length > 1)
    throw invalid(
      `${where}: ${what} sets more than one way to authenticate (${methods.join(', ')}); keep one`,
    );

  const headers: Record<string, string> = {};
  const as = text(user.body['as']);
  if (as !== undefined) headers['impersonate-user'] = as;
  const groups = user.body['as-groups'];
  if (Array.isArray(groups) && groups.length > 0) headers['impersonate-group'] = groups.map(String).join(',');
  if (username !== undefined)
    headers['authorization'] = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
  else if (token !== undefined && tokenFile === undefined) headers['authorization'] = `Bearer ${token}`;
  const base: RequestCredentials = { headers, ...(cert === undefined ? {} : { cert, key }) };

  if (tokenFile !== undefined) return tokenFileAuthenticator(tokenFile, { base });
  if (exec !== undefined && exec !== null) {
    const plugin = execAuthenticator(execConfig(exec, where, what), { user: name, file: user.file, cluster });
    return {
      async current() {
        const issued = await plugin.current();
        const tls = issued.cert !== undefined ? issued : base;
        return {
          headers: { ...headers, ...issued.headers },
          ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key }),
        };
      },
      invalidate: () => plugin.invalidate(),
    };
  }
  return staticAuthenticator(base);
}

function execConfig(raw: unknown, where: string, what: string): ExecConfig {
  if (!isObject(raw)) throw invalid(`${where}: ${what} has an exec entry that is not a mapping`);
  const command = text(raw['command']);
  if (command === undefined) throw invalid(`${where}: ${what} has an exec entry without a command`);
  const apiVersion = text(raw['apiVersion']);
  if (apiVersion === undefined || !EXEC_API_VERSIONS.includes(apiVersion))
    throw invalid(
      `${where}: ${what} exec apiVersion ${JSON.stringify(raw['apiVersion'] ?? null)} is not supported (${EXEC_API_VERSIONS.join(' or ')})`,
    );
  const args = raw['args'] ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
    throw invalid(`${where}: ${what} exec args is not a list of strings`);
  const env = raw['env'] ?? [];
  if (
    !Array.isArray(env) ||
    !env.every((e) => isObject(e) && text(e['name']) !== undefined && typeof e['value'] === 'string')
  )
    throw invalid(`${where}: ${what} exec env is not a list of {name, value}`);
  const installHint = text(raw['installHint']);
  const interactiveMode = text(raw['interactiveMode']);
  return {
    apiVersion,
    command,
    args,
    env: env as { name: string; value: string }[],
    ...(installHint === undefined ? {} : { installHint }),
    ...(interactiveMode === undefined ? {} : { interactiveMode }),
    ...(raw['provideClusterInfo'] === true ? { provideClusterInfo: true } : {}),
  };
}
