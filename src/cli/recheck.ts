// Wires the continuous re-check (`sigward webhook --recheck`): while this replica holds the status
// writer's Lease it watches Pods (kube/running-pods.ts), re-checks their images with the admission
// engine (engine/recheck.ts), writes a PolicyReport per namespace (kube/policy-report*.ts), records an
// ImageRecheckFailed Event on a Pod whose failures change and exports the violations by policy. Losing
// the Lease stops all of it; the next leader lists the Pods and reports afresh.
//
// Pull credentials: a Pod's own imagePullSecrets and its service account's, exactly as admission uses
// them (and the cloud exchange after them), through the same Decider.
import { describeError } from '../errors.ts';
import { RecheckScheduler } from '../engine/index.ts';
import type { Decider, PolicySnapshotSource, PublicKeySource } from '../engine/index.ts';
import type { SkipSettings } from '../admission/skip.ts';
import {
  PolicyReportWriter,
  RunningPods,
  TokenBucket,
  buildPolicyReport,
  reportResultOf,
} from '../kube/index.ts';
import type { EventRecorder, KubeClient } from '../kube/index.ts';
import { CustomObjectsApi } from '../kube/index.ts';
import type { Logger, Metrics } from '../telemetry/index.ts';

export const RECHECK_USAGE = `--recheck                   re-check the images of running Pods (leader only) when a policy, trust root
                              or key Secret changes and every --recheck-interval-seconds; PolicyReports
  --recheck-interval-seconds N   a full re-check this often (default 600; 0: only on changes)
  --recheck-rate N            new verifications per second against registries during a re-check (default 2,
                              bursts of 20)`;

export interface RecheckOptions {
  readonly intervalSeconds: number;
  readonly perSecond: number;
}

export interface RecheckWiring {
  readonly cluster: KubeClient;
  readonly decider: Decider;
  readonly policies: PolicySnapshotSource;
  readonly skip: SkipSettings;
  /** Key Secrets named by policies: a rotated key starts a re-check. */
  readonly keys?: PublicKeySource;
  /** Tells of a key Secret read that found the key changed (SecretPublicKeys.onChange). */
  readonly keyChanges?: (listener: () => Promise<void>) => () => void;
  readonly namespaceLabels?: (namespace: string) => Readonly<Record<string, string>> | undefined;
  readonly events?: EventRecorder;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly options: RecheckOptions;
}

/** The re-check, started and stopped with leadership. */
export class ContinuousRecheck {
  readonly #wiring: RecheckWiring;
  readonly #writer: PolicyReportWriter;
  readonly #scheduler: RecheckScheduler;
  #pods: RunningPods | undefined;
  #leading = false;

  constructor(wiring: RecheckWiring) {
    this.#wiring = wiring;
    const { metrics, logger, events } = wiring;
    this.#writer = new PolicyReportWriter(new CustomObjectsApi(wiring.cluster));
    const writer = this.#writer;
    this.#scheduler = new RecheckScheduler(
      {
        decider: wiring.decider,
        policies: wiring.policies,
        limit: new TokenBucket({ burst: 20, perSecond: wiring.options.perSecond }),
        skip: wiring.skip,
        ...(wiring.keys === undefined ? {} : { keys: wiring.keys }),
        ...(wiring.keyChanges === undefined ? {} : { keyChanges: wiring.keyChanges }),
        ...(wiring.namespaceLabels === undefined ? {} : { namespaceLabels: wiring.namespaceLabels }),
        sink: {
          write: (namespace, pods) => writer.write(buildPolicyReport(namespace, pods)),
          managedNamespaces: () => writer.managedNamespaces(),
        },
        observer: {
          round: (trigger, pods) => {
            metrics.recheckRounds.inc({ trigger });
            logger.info({ trigger, pods }, 're-checking the images of running Pods');
          },
          decision: (result) => metrics.recheckDecisions.inc({ result }),
          violation: (v) => {
            logger.warn(
              { pod: `${v.namespace}/${v.name}`, failures: v.failures },
              'running Pod fails re-check',
            );
            events?.record({ apiVersion: 'v1', kind: 'Pod', ...v, outcome: 'recheck' });
          },
          sinkFailed: (namespace, error) => {
            metrics.recheckReportFailures.inc();
            logger.warn({ namespace, err: describeError(error) }, 'PolicyReport not written');
          },
        },
      },
      { intervalMs: wiring.options.intervalSeconds * 1000 },
    );
  }

  /** Failed results now, by policy and result (the sigward_recheck_violations gauge). */
  *violations(): Generator<{ policy: string; result: string; count: number }> {
    const counts = new Map<string, { policy: string; result: string; count: number }>();
    for (const { decisions } of this.#scheduler.results())
      for (const d of decisions)
        for (const r of d.results) {
          if (r.passed) continue;
          const policy = r.policy ?? 'no-matching-policy';
          const result = reportResultOf(r);
          const key = `${policy}\u0000${result}`;
          const entry = counts.get(key) ?? { policy, result, count: 0 };
          entry.count++;
          counts.set(key, entry);
        }
    yield* counts.values();
  }

  /** Leadership gained or lost. */
  async leading(leading: boolean): Promise<void> {
    if (leading === this.#leading) return;
    this.#leading = leading;
    if (!leading) return this.stop();
    const { logger } = this.#wiring;
    const scheduler = this.#scheduler;
    await scheduler.start();
    const pods = new RunningPods(this.#wiring.cluster, {
      changed: (upserted, removed) => scheduler.podsChanged(upserted, removed),
      synced: () => scheduler.podsSynced(),
      failed: (error, retryInMs) =>
        logger.warn({ err: describeError(error), retryInMs }, 'Pod informer failed; retrying'),
    });
    this.#pods = pods;
    await pods.start();
  }

  policiesChanged(): void {
    this.#scheduler.policiesChanged();
  }

  trustRootsChanged(version: string): void {
    this.#scheduler.trustRootsChanged(version);
  }

  async stop(): Promise<void> {
    this.#leading = false;
    const pods = this.#pods;
    this.#pods = undefined;
    await pods?.stop();
    await this.#scheduler.stop();
    this.#writer.reset();
  }
}
