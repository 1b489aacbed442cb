// Writes the re-check's PolicyReports (policy-report.ts builds them) to the apiserver: one per
// namespace, created, replaced (with its resourceVersion, so a concurrent writer loses cleanly) or
// deleted when no checked Pod is left. A report whose results are unchanged is not written again: a
// result keeps the time it was first found (what `timestamp` means in the wgpolicyk8s.io API), and a
// round over an unchanged cluster costs no write. A report of that name sigward does not manage (no
// app.kubernetes.io/managed-by=sigward label) is never touched.
import { SigwardError } from '../errors.ts';
import type { CustomObjectsApi } from './client/apis.ts';
import { statusOf } from './client/errors.ts';
import type { ResourcePath } from './client/resources.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, REPORT_NAME } from './policy-report.ts';
import type { PolicyReport, PolicyReportResult } from './policy-report.ts';

const GROUP = 'wgpolicyk8s.io';
const VERSION = 'v1alpha2';
const PLURAL = 'policyreports';

/** The custom-object requests the writer makes. */
export type ReportStore = Pick<CustomObjectsApi, 'get' | 'list' | 'create' | 'replace' | 'delete'>;

/** Where PolicyReports live: all of them, a namespace's, or one by name. */
const reports = (namespace?: string, name?: string): ResourcePath => ({
  group: GROUP,
  version: VERSION,
  plural: PLURAL,
  ...(namespace === undefined ? {} : { namespace }),
  ...(name === undefined ? {} : { name }),
});

type Stored = PolicyReport & { metadata: { resourceVersion?: string; labels?: Record<string, string> } };

export class PolicyReportWriter {
  readonly #api: ReportStore;
  /** namespace → what was last written (results without timestamps), to skip identical writes. */
  readonly #written = new Map<string, { print: string; report: PolicyReport }>();

  constructor(api: ReportStore) {
    this.#api = api;
  }

  /** Creates, replaces or (with no results) deletes the namespace's report. */
  async write(report: PolicyReport): Promise<void> {
    const namespace = report.metadata.namespace;
    const print = fingerprint(report);
    if (this.#written.get(namespace)?.print === print) return;
    const existing = await this.#read(namespace);
    if (existing !== undefined && existing.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY)
      throw new SigwardError(
        'KUBE_REPORT_NOT_OURS',
        `PolicyReport ${namespace}/${REPORT_NAME} exists without the label ${MANAGED_BY_LABEL}=${MANAGED_BY}: left alone`,
      );
    if (report.results.length === 0) {
      if (existing !== undefined) await this.#delete(namespace);
      this.#written.set(namespace, { print, report });
      return;
    }
    const body = { ...report, results: keepFirstFound(report.results, existing?.results ?? []) };
    if (existing === undefined) await this.#api.create(reports(namespace), body);
    else
      await this.#api.replace(reports(namespace, REPORT_NAME), {
        ...body,
        metadata: { ...body.metadata, resourceVersion: existing.metadata.resourceVersion },
      });
    this.#written.set(namespace, { print, report });
  }

  /** Namespaces that hold a sigward report now (written by any replica, before or since a restart). */
  async managedNamespaces(): Promise<string[]> {
    const list = await this.#api.list<Stored>(reports(), {
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
    });
    return list.items.filter((r) => r.metadata.name === REPORT_NAME).map((r) => r.metadata.namespace);
  }

  /** Forgets what was written (a new leader reads the reports afresh). */
  reset(): void {
    this.#written.clear();
  }

  async #read(namespace: string): Promise<Stored | undefined> {
    try {
      return await this.#api.get<Stored>(reports(namespace, REPORT_NAME));
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async #delete(namespace: string): Promise<void> {
    try {
      await this.#api.delete(reports(namespace, REPORT_NAME));
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }
}

const identityOf = (r: PolicyReportResult): string =>
  JSON.stringify([r.policy, r.rule, r.resources[0]?.uid, r.properties['field'], r.result, r.message]);

/** What the report says, without the times its results were found. */
function fingerprint(report: PolicyReport): string {
  return JSON.stringify([report.summary, report.metadata.annotations ?? {}, report.results.map(identityOf)]);
}

/** A result already in the stored report with the same outcome keeps the time it was first found. */
function keepFirstFound(
  results: readonly PolicyReportResult[],
  stored: readonly PolicyReportResult[],
): PolicyReportResult[] {
  const found = new Map(stored.map((r) => [identityOf(r), r.timestamp]));
  return results.map((r) => {
    const timestamp = found.get(identityOf(r));
    return timestamp === undefined ? r : { ...r, timestamp };
  });
}
