// The whole local world in one call: the Kubernetes control plane, Sigstore (Fulcio with the apiserver
// as its OIDC issuer, Rekor v2, TSA, trust material and a TUF repository), the registries, and the real
// clients fenced into the run directory. `npm run stack` and every e2e scenario start it from here.
import { createClients, type Clients } from './clients.ts';
import { kubernetesIssuer } from './fulcio.ts';
import { startFullTier, type FullTier } from './full-tier.ts';
import { startKube, type Kube } from './kube.ts';
import { startDistributionV3, startDockerRegistry, startOlareg, type Registry } from './registry.ts';
import { createRunDir, type RunDir } from './run-dir.ts';
import { startSigstore, type Sigstore } from './sigstore.ts';

export type Tier = 'e2e' | 'full';

export interface WorldOptions {
  /** `full` adds the CT log, Rekor v1 on Trillian + MariaDB (and cosign v2 among the clients). */
  tier?: Tier;
  /** The apiserver's port; free by default. */
  kubePort?: number;
  /**
   * More kube-apiserver flags, made once the run directory exists and before the apiserver starts (e.g.
   * an --admission-control-config-file whose kubeconfig and certificates live in the run directory).
   */
  apiserverArgs?: (runDir: RunDir) => Promise<readonly string[]>;
}

export interface Registries {
  /** olareg with the OCI 1.1 referrers API. */
  referrers: Registry;
  /** Debian's docker-registry 2.8: no referrers API (404), so clients use the fallback tag. */
  fallback: Registry;
  /** CNCF distribution v3 (`registry:3`, what most self-hosted users run): no referrers API either. */
  distributionV3: Registry;
}

export interface World {
  readonly tier: Tier;
  readonly runDir: RunDir;
  readonly kube: Kube;
  readonly sigstore: Sigstore;
  readonly registries: Registries;
  readonly clients: Clients;
  /** Present in the full tier only. */
  readonly full?: FullTier;
  /** Milliseconds from start to ready, for the README's figures. */
  readonly startupMs: number;
  /** Stops everything and removes the run directory; after a failure, keeps the logs first. */
  stop(options?: { keepLogsAs?: string }): Promise<string | undefined>;
}

/** The tier asked for by the environment (`npm run e2e:full` sets SIGWARD_E2E_TIER=full). */
export function tierFromEnv(): Tier {
  return process.env.SIGWARD_E2E_TIER === 'full' ? 'full' : 'e2e';
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const tier = options.tier ?? tierFromEnv();
  const runDir = createRunDir();
  const began = performance.now();
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    // Reverse order of start: Sigstore before the apiserver it reads discovery from.
    for (const stop of stoppers.reverse().splice(0)) await stop().catch(() => undefined);
  };
  const track = <T extends { stop(): Promise<void> }>(piece: T): T => {
    stoppers.push(() => piece.stop());
    return piece;
  };

  try {
    const [kube, referrers, fallback, distributionV3] = await Promise.all([
      (options.apiserverArgs?.(runDir) ?? Promise.resolve([]))
        .then((apiserverArgs) =>
          startKube(runDir, {
            apiserverArgs,
            ...(options.kubePort === undefined ? {} : { port: options.kubePort }),
          }),
        )
        .then(track),
      startOlareg(runDir, { referrers: true }).then(track),
      startDockerRegistry(runDir).then(track),
      startDistributionV3(runDir).then(track),
    ]);
    const sigstore = track(await startSigstore(runDir, { issuer: kube.issuer, issuerCaPem: kube.caPem }));
    const full =
      tier === 'full'
        ? track(await startFullTier(runDir, { issuers: [kubernetesIssuer(kube.issuer, kube.caPem)] }))
        : undefined;
    const clients = createClients(runDir);
    const startupMs = Math.round(performance.now() - began);
    let stopped: Promise<string | undefined> | undefined;
    return {
      tier,
      runDir,
      kube,
      sigstore,
      registries: { referrers, fallback, distributionV3 },
      clients,
      ...(full === undefined ? {} : { full }),
      startupMs,
      stop(stopOptions = {}) {
        stopped ??= (async () => {
          await stopAll();
          const kept =
            stopOptions.keepLogsAs === undefined ? undefined : runDir.keepLogs(stopOptions.keepLogsAs);
          runDir.remove();
          return kept;
        })();
        return stopped;
      },
    };
  } catch (error) {
    await stopAll();
    const kept = runDir.keepLogs('world-start-failed');
    runDir.remove();
    if (error instanceof Error) error.message += `\n(logs kept in ${kept})`;
    throw error;
  }
}
