// The world's OCI registries, each a real server on a loopback port:
// - olareg, a minimal OCI-conformant registry whose referrers API is a start flag, so one binary serves
//   both the referrers suite (on) and the fallback-tag suite (off);
// - Debian's docker-registry 2.8 (distribution v2), the real older registry without a referrers API.
// Every start checks with a real request that the referrers API is what the caller asked for, so a
// renamed flag or a changed default can never silently turn a fallback test into a referrers test.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorldError } from './errors.ts';
import { freePort, loopback } from './ports.ts';
import { answers } from './probe.ts';
import { startService, type Service } from './process.ts';
import type { RunDir } from './run-dir.ts';
import { debianTool, goTool } from './tools.ts';

export type RegistryKind = 'olareg' | 'docker-registry';

export interface Registry {
  readonly kind: RegistryKind;
  /** `127.0.0.1:<port>`: the host part of image references (go-containerregistry speaks plain HTTP to it). */
  readonly host: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Whether `GET /v2/<repo>/referrers/<digest>` is served; false means clients use the fallback tag. */
  readonly referrersApi: boolean;
  /**
   * What the referrers API answered at start for a digest nothing refers to: 200 (an empty index) when
   * served; when not, 404 from docker-registry but 405 UNSUPPORTED from olareg, which go-containerregistry
   * (crane, cosign) does not take for "no referrers API" (it accepts 404, 400 and 406).
   */
  readonly referrersStatus: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface OlaregOptions {
  referrers: boolean;
  /** `mem` (default) keeps everything in memory; `dir` keeps an OCI layout under the run dir. */
  store?: 'mem' | 'dir';
  /** Service name, for the log file; defaults to `olareg-referrers-on|off`. */
  name?: string;
}

const apiReady = (url: string) => () => answers(`${url}/v2/`);

/** olareg on a free loopback port with `--api-referrer` set as asked. */
export async function startOlareg(runDir: RunDir, options: OlaregOptions): Promise<Registry> {
  const port = await freePort();
  const name = options.name ?? `olareg-referrers-${options.referrers ? 'on' : 'off'}`;
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
  if (store === 'dir') args.push('--dir', runDir.sub(name));
  const url = `http://${loopback}:${port}`;
  const service = await startService({
    name,
    command: goTool('olareg'),
    args,
    logDir: runDir.logs,
    ready: apiReady(url),
  });
  return checked('olareg', service, url, options.referrers);
}

/**
 * Debian's docker-registry (distribution 2.8) with its own config in the run dir, filesystem storage in
 * the run dir, on a free loopback port; never the system service. It has no referrers API.
 */
export async function startDockerRegistry(runDir: RunDir, name = 'docker-registry'): Promise<Registry> {
  const command = debianTool('docker-registry', 'docker-registry');
  const port = await freePort();
  const dir = runDir.sub(name);
  const config = path.join(dir, 'config.yml');
  // Uploads are never purged (the default would start a background sweep), no health check of the
  // storage driver, and deletes are allowed so tests can remove a signature.
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(path.join(dir, 'data'))}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: ${loopback}:${port}`,
      '  secret: sigward-e2e-only',
      '',
    ].join('\n'),
  );
  const url = `http://${loopback}:${port}`;
  const service = await startService({
    name,
    command,
    args: ['serve', config],
    logDir: runDir.logs,
    ready: apiReady(url),
  });
  return checked('docker-registry', service, url, false);
}

/** The status of a referrers request for a digest nothing refers to. */
export async function probeReferrers(url: string, repository = 'sigward-probe/referrers'): Promise<number> {
  const digest = `sha256:${'0'.repeat(64)}`;
  const response = await fetch(`${url}/v2/${repository}/referrers/${digest}`, {
    headers: { accept: 'application/vnd.oci.image.index.v1+json' },
  });
  await response.arrayBuffer();
  return response.status;
}

async function checked(
  kind: RegistryKind,
  service: Service,
  url: string,
  referrersApi: boolean,
): Promise<Registry> {
  const status = await probeReferrers(url).catch((error: unknown) => {
    return service.stop().then(() => {
      throw new WorldError('REGISTRY_PROBE', `${service.name}: referrers probe failed: ${String(error)}`, {
        cause: error,
      });
    });
  });
  const expected = referrersApi ? [200] : [404, 405];
  if (!expected.includes(status)) {
    await service.stop();
    throw new WorldError(
      'REGISTRY_REFERRERS_MODE',
      `${service.name}: referrers API should answer ${expected.join(' or ')} but answered ${status}; log ${service.logFile}`,
    );
  }
  return {
    kind,
    host: url.slice('http://'.length),
    url,
    referrersApi,
    referrersStatus: status,
    logFile: service.logFile,
    stop: () => service.stop(),
  };
}
