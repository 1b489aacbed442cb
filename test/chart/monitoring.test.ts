// The chart's alerts and dashboard query what sigward exports: every sigward_* series in
// templates/prometheusrule.yaml and files/grafana-dashboard.json is a metric createMetrics defines, and
// the trust-root alert watches the time since the last successful refresh (which moves on every
// success), not the root's age (which moved only when its bytes changed, so it fired on healthy pods).
// The rule as Helm renders it is checked in e2e/trust-roots.e2e.ts (no promtool here).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ADMISSION_DECISIONS, createMetrics } from '../../src/telemetry/metrics.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

const rule = readFileSync(join(REPO_ROOT, 'charts/sigward/templates/prometheusrule.yaml'), 'utf8');
const dashboard = readFileSync(join(REPO_ROOT, 'charts/sigward/files/grafana-dashboard.json'), 'utf8');

async function exported(): Promise<Set<string>> {
  const text = await createMetrics().text();
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
  }
  return names;
}

test('every sigward_*, process_* and nodejs_* series the PrometheusRule and the dashboard query is one sigward exports', async () => {
  const names = await exported();
  for (const [file, text] of [
    ['prometheusrule.yaml', rule],
    ['grafana-dashboard.json', dashboard],
  ] as const) {
    const used = new Set([...text.matchAll(/\b(?:sigward|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0]));
    assert.ok(used.size > 0, file);
    for (const name of used)
      assert.ok(names.has(name), `${file} queries ${name}, which sigward does not export`);
  }
});

test('the trust-root alert fires on the time since the last successful refresh, per pod and trust root', () => {
  const alert = /- alert: SigwardTrustRootRefreshFailing\n\s+expr: (.+)\n\s+for: (\S+)/.exec(rule);
  assert.ok(alert, 'SigwardTrustRootRefreshFailing is defined');
  assert.equal(
    alert[1],
    'time() - sigward_trust_root_last_success_timestamp_seconds{ {{- $job -}} } > {{ int $r.staleTrustRootSeconds }}',
  );
  assert.equal(alert[2], '15m');
  assert.doesNotMatch(rule, /trust_root_age_seconds|SigwardTrustRootStale/);
});

/** Every PromQL expression of the rule (one-line and `|` blocks) and of the dashboard's targets. */
function expressions(): Array<readonly [string, string]> {
  const fromRule = [...rule.matchAll(/expr: (?:\|\n((?:\s{12,}.+\n)+)|(.+))/g)].map(
    (m) => ['prometheusrule.yaml', (m[1] ?? m[2] ?? '').trim()] as const,
  );
  const panels = (JSON.parse(dashboard) as { panels: Array<{ targets?: Array<{ expr: string }> }> }).panels;
  const fromDashboard = panels
    .flatMap((p) => p.targets ?? [])
    .map((t) => ['grafana-dashboard.json', t.expr] as const);
  return [...fromRule, ...fromDashboard];
}

// Labels Prometheus adds at scrape time (the ServiceMonitor's target labels) and histogram buckets.
const TARGET_LABELS = new Set(['job', 'pod', 'instance', 'namespace', 'service', 'le']);

test('every label the rule and the dashboard select or group by is one the queried series carry', async () => {
  const labelsOf = new Map<string, readonly string[]>();
  for (const m of createMetrics().registry.getMetricsAsArray()) {
    const names = (m as unknown as { labelNames: readonly string[] }).labelNames;
    for (const suffix of ['', '_bucket', '_sum', '_count']) labelsOf.set(`${m.name}${suffix}`, names);
  }
  const exprs = expressions();
  assert.ok(exprs.length >= 10, `found ${exprs.length} expressions`);
  for (const [file, expr] of exprs) {
    const series = [...expr.matchAll(/\b(?:sigward|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0]);
    if (series.length === 0) continue;
    const carried = new Set(series.flatMap((s) => labelsOf.get(s) ?? []));
    const used = [
      ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())),
      ...[...expr.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)\s*"/g)].map((m) => m[1]!),
    ].filter((l) => l !== '');
    for (const label of used)
      assert.ok(
        TARGET_LABELS.has(label) || carried.has(label),
        `${file}: ${expr} uses label ${label}, which ${series.join(', ')} do not carry`,
      );
  }
});

test('every decision the rule and the dashboard match is one sigward emits (error-allow, error-deny, …)', () => {
  let matchers = 0;
  for (const [file, expr] of expressions())
    for (const [, op, value] of expr.matchAll(/\bdecision\s*(=~|!~|=|!=)\s*"([^"]*)"/g)) {
      matchers++;
      const re = op!.includes('~') ? new RegExp(`^(?:${value})$`) : undefined;
      const hits = ADMISSION_DECISIONS.filter((d) => (re === undefined ? d === value : re.test(d)));
      assert.ok(
        hits.length > 0,
        `${file}: decision${op}"${value}" matches none of ${ADMISSION_DECISIONS.join(', ')}`,
      );
    }
  assert.ok(matchers > 0, 'the error-ratio alert matches on decision');
});
