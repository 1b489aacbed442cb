// The world's OCI registries, each a real server on a loopback port:
// - olareg, a minimal OCI-conformant registry whose referrers API is a start flag, so one binary serves
//   both the referrers suite (on) and the fallback-tag suite (off);
// - Debian's docker-registry 2.8 (distribution v2), the real older registry without a referrers API;
// - CNCF distribution v3 (`registry:3`, what most self-hosted users run), built from e2e/tools/distribution:
//   still no referrers API, so clients use the fallback tag.
// Every start checks with a real request that the referrers API is what the caller asked for, so a
// renamed flag or a changed default can never silently turn a fallback test into a referrers test.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import {
  DEBIAN_DOCKER_REGISTRY,
  startDockerRegistry as startSupportRegistry,
  type DockerRegistry as SupportRegistry,
  type RegistryAuth,
  type RegistryProgram,
} from '../../test/support/docker-registry.ts';
import { DISTRIBUTION_V3 } from '../../test/support/distribution-registry.ts';
import bcrypt from 'bcryptjs';
import { WorldError } from './errors.ts';
import { listenerCommand, ownsListener } from './listener.ts';
import { freePort, loopback } from './ports.ts';
import { answers } from './probe.ts';
import { startService, type Service } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { goTool } from './tools.ts';

export type RegistryKind = 'olareg' | 'docker-registry' | 'distribution-v3';
export type { RegistryAuth };

export interface Registry {
  readonly kind: RegistryKind;
  /** `127.0.0.1:<port>`: the host part of image references (go-containerregistry speaks plain HTTP to it). */
  readonly host: string;
  /** `http://127.0.0.1:<port>`, or https with `tls`. */
  readonly url: string;
  /** Whether `GET /v2/<repo>/referrers/<digest>` is served; false means clients use the fallback tag. */
  readonly referrersApi: boolean;
  /**
   * What the referrers API answered at start for a digest nothing refers to: 200 (an empty index) when
   * served; when not, 404 from distribution (2.8 and v3) but 405 UNSUPPORTED from olareg, which
   * go-containerregistry (crane, cosign) does not take for "no referrers API" (it accepts 404, 400, 406).
   */
  readonly referrersStatus: number;
  readonly logFile: string;
  /** The CA of a TLS registry (Go clients take it as SSL_CERT_FILE); absent for plain HTTP. */
  readonly caPem?: string;
  stop(): Promise<void>;
}

/** Users with a password (basic auth); each may push and pull every repository. */
export interface BasicAuth {
  kind: 'htpasswd';
  users: Readonly<Record<string, string>>;
  /** Anonymous clients may pull (but not push); default false: every request needs a login. */
  anonymousRead?: boolean;
}

export interface RegistryTls {
  certFile: string;
  keyFile: string;
  /** What clients must trust to reach it (Go clients: SSL_CERT_FILE). */
  caPem: string;
}

export interface OlaregOptions {
  referrers: boolean;
  /** `mem` (default) keeps everything in memory; `dir` keeps an OCI layout under the run dir. */
  store?: 'mem' | 'dir';
  /** Service name, for the log file; defaults to `olareg-referrers-on|off`. */
  name?: string;
  auth?: BasicAuth;
  tls?: RegistryTls;
}

function basicAuthorization(auth: BasicAuth | undefined): string | undefined {
  const first = auth === undefined ? undefined : Object.entries(auth.users)[0];
  return first === undefined
    ? undefined
    : `Basic ${Buffer.from(`${first[0]}:${first[1]}`).toString('base64')}`;
}

/** olareg's basic-auth file: bcrypt hashes (never the passwords), one ACL for the users, maybe anonymous pull. */
function olaregAuthFile(dir: string, auth: BasicAuth): string {
  const names = Object.keys(auth.users);
  const lines = ['users:'];
  for (const [user, password] of Object.entries(auth.users)) {
    lines.push(`  ${JSON.stringify(user)}:`, `    cred: ${JSON.stringify(bcrypt.hashSync(password, 4))}`);
  }
  lines.push('acls:', '  - repo: "*"', '    access: ["*"]', `    members: ${JSON.stringify(names)}`);
  if (auth.anonymousRead === true) lines.push('  - repo: "*"', '    access: ["read"]', '    anonymous: true');
  const file = path.join(dir, 'auth.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

/** olareg on a free loopback port with `--api-referrer` set as asked; optionally basic auth and TLS. */
export async function startOlareg(runDir: RunDir, options: OlaregOptions): Promise<Registry> {
  const name = options.name ?? `olareg-referrers-${options.referrers ? 'on' : 'off'}`;
  const ca = options.tls?.caPem;
  const authorization = basicAuthorization(options.auth);
  // Another process may be handed the same port: retry on a lost bind, and make sure the server that
  // answered is ours (see listener.ts), never another test's registry.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `${options.tls === undefined ? 'http' : 'https'}://${loopback}:${port}`;
    let service: Service;
    try {
      service = await startService({
        name,
        command: goTool('olareg'),
        args: olaregArgs(runDir, name, port, options),
        logDir: runDir.logs,
        // With auth, /v2/ says 401 to an anonymous client: it is up.
        ready: () =>
          answers(`${url}/v2/`, { ...(ca === undefined ? {} : { ca }), ok: (s) => s === 200 || s === 401 }),
      });
    } catch (error) {
      const lostBind = error instanceof WorldError && /address already in use/.test(error.message);
      if (lostBind && attempt < 3) continue;
      throw error;
    }
    if (ownsListener(service.pid, port) === false) {
      await service.stop();
      if (attempt < 3) continue;
      throw new WorldError('PORT_TAKEN', `${name}: port ${port} answered but not from our olareg, 3 times`);
    }
    return checked('olareg', service, url, options.referrers, options.referrers ? [200] : [405], {
      ...(ca === undefined ? {} : { ca }),
      ...(authorization === undefined ? {} : { authorization }),
    });
  }
}

function olaregArgs(runDir: RunDir, name: string, port: number, options: OlaregOptions): string[] {
  const store = options.store ?? 'mem';
  const args = [
    'serve',
    '--addr',
    loopback,
    '--port',
    String(port),
    '--store-type',
    store,
    `--api-referrer=${String(options.referrers)}`,
    // No garbage collection: a test's untagged referrer or fresh blob must not vanish mid-run.
    '--gc-frequency=-1s',
  ];
  const needsDir = store === 'dir' || options.auth !== undefined;
  const dir = needsDir ? runDir.sub(name) : '';
  if (store === 'dir') args.push('--dir', path.join(dir, 'oci-layout'));
  if (options.auth !== undefined) args.push('--auth-basic', olaregAuthFile(dir, options.auth));
  if (options.tls !== undefined)
    args.push('--tls-cert', options.tls.certFile, '--tls-key', options.tls.keyFile);
  return args;
}

export interface DockerRegistryOptions {
  /** Name in the run dir's logs; defaults to the kind (`docker-registry`, `distribution-v3`). */
  name?: string;
  /** Basic (htpasswd) or token auth, as test/support/docker-registry.ts offers. */
  auth?: RegistryAuth;
  tls?: RegistryTls;
}

/**
 * Debian's docker-registry (distribution 2.8) on a free loopback port, never the system service: the
 * same starter as the npm-test tier (test/support/docker-registry.ts), with its log copied into the run
 * dir's logs when it stops. It has no referrers API.
 */
export function startDockerRegistry(runDir: RunDir, options: DockerRegistryOptions = {}): Promise<Registry> {
  return startDistribution(runDir, 'docker-registry', DEBIAN_DOCKER_REGISTRY, options);
}

/**
 * distribution v3 (e2e/.bin/distribution-registry) on a free loopback port, started like Debian's 2.8
 * (same config, same starter). It has no referrers API either: the probe must answer 404.
 */
export function startDistributionV3(runDir: RunDir, options: DockerRegistryOptions = {}): Promise<Registry> {
  // goTool's one-line error says how to build it when it is missing.
  const program = { ...DISTRIBUTION_V3, bin: goTool('distribution-registry') };
  return startDistribution(runDir, 'distribution-v3', program, options);
}

async function startDistribution(
  runDir: RunDir,
  kind: 'docker-registry' | 'distribution-v3',
  program: RegistryProgram,
  options: DockerRegistryOptions,
): Promise<Registry> {
  const name = options.name ?? kind;
  // The shared starter trusts the certificate file itself while it waits for the registry: give it the
  // chain up to the CA (the registry serves the chain too, as a real one would).
  let tls: { certFile: string; keyFile: string } | undefined;
  if (options.tls !== undefined) {
    const chain = path.join(runDir.sub(name), 'serving-chain.pem');
    writeFileSync(
      chain,
      `${readFileSync(options.tls.certFile, 'utf8').trimEnd()}\n${options.tls.caPem.trimEnd()}\n`,
    );
    tls = { certFile: chain, keyFile: options.tls.keyFile };
  }
  // The shared starter retries a lost bind but cannot tell whether the server that answered its probe is
  // its own: check that whoever listens on the port runs with this registry's config file.
  let started: SupportRegistry | undefined;
  for (let attempt = 1; started === undefined; attempt++) {
    const candidate = await startSupportRegistry({
      program,
      ...(options.auth === undefined ? {} : { auth: options.auth }),
      ...(tls === undefined ? {} : { tls }),
    });
    const command = listenerCommand(Number(candidate.host.split(':')[1]));
    if (command === undefined || command.includes(path.join(candidate.dir, 'config.yml'))) {
      started = candidate;
    } else {
      await candidate.stop();
      if (attempt >= 3)
        throw new WorldError('PORT_TAKEN', `${name}: its port answered from another process, 3 times`);
    }
  }
  const support = started;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      try {
        copyFileSync(support.logFile, path.join(runDir.logs, `${name}.log`));
      } catch {
        // no log yet: nothing to keep
      }
      await support.stop();
    })();
    return stopped;
  };
  const ca = options.tls?.caPem;
  // distribution 2.8 and 3.1 have no referrers route at all, so even an anonymous probe of a registry
  // with auth gets 404 (a 401 would also mean "not served" for a registry with auth, hence accepted).
  const expected = options.auth === undefined ? [404] : [404, 401];
  const authorization =
    options.auth?.kind === 'htpasswd'
      ? basicAuthorization({ kind: 'htpasswd', users: options.auth.users })
      : undefined;
  return checked(kind, { name, logFile: support.logFile, stop }, support.url, false, expected, {
    ...(ca === undefined ? {} : { ca }),
    ...(authorization === undefined ? {} : { authorization }),
  });
}

export interface ProbeOptions {
  repository?: string;
  /** PEM CA for an https registry with a private certificate. */
  ca?: string;
  /** An Authorization header value (`Basic …`), for a registry with auth. */
  authorization?: string;
}

/** The status of a referrers request for a digest nothing refers to. */
export function probeReferrers(url: string, options: ProbeOptions = {}): Promise<number> {
  const repository = options.repository ?? 'sigward-probe/referrers';
  const target = `${url}/v2/${repository}/referrers/sha256:${'0'.repeat(64)}`;
  const client = target.startsWith('https:') ? https : http;
  const headers: Record<string, string> = { accept: 'application/vnd.oci.image.index.v1+json' };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  return new Promise((resolve, reject) => {
    const request = client.get(target, { ca: options.ca, timeout: 5000, headers }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer from ${target} within 5 s`)));
    request.on('error', reject);
  });
}

interface Stoppable {
  name: string;
  logFile: string;
  stop(): Promise<void>;
}

async function checked(
  kind: RegistryKind,
  service: Stoppable,
  url: string,
  referrersApi: boolean,
  expected: readonly number[],
  probe: ProbeOptions,
): Promise<Registry> {
  const ca = probe.ca;
  const status = await probeReferrers(url, probe).catch((error: unknown) => {
    return service.stop().then(() => {
      throw new WorldError('REGISTRY_PROBE', `${service.name}: referrers probe failed: ${String(error)}`, {
        cause: error,
      });
    });
  });
  if (!expected.includes(status)) {
    await service.stop();
    throw new WorldError(
      'REGISTRY_REFERRERS_MODE',
      `${service.name}: referrers API should answer ${expected.join(' or ')} but answered ${status}; log ${service.logFile}`,
    );
  }
  return {
    kind,
    host: url.replace(/^https?:\/\//, ''),
    url,
    referrersApi,
    referrersStatus: status,
    logFile: service.logFile,
    ...(ca === undefined ? {} : { caPem: ca }),
    stop: () => service.stop(),
  };
}
