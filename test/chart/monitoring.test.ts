// The chart's alerts and dashboard query what sigward exports: every sigward_* series in
// templates/prometheusrule.yaml and files/grafana-dashboard.json is a metric createMetrics defines, and
// the trust-root alert watches the time since the last successful refresh (which moves on every
// success), not the root's age (which moved only when its bytes changed, so it fired on healthy pods).
// The rule as Helm renders it is checked in e2e/trust-roots.e2e.ts (no promtool here).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

const rule = readFileSync(join(REPO_ROOT, 'charts/sigward/templates/prometheusrule.yaml'), 'utf8');
const dashboard = readFileSync(join(REPO_ROOT, 'charts/sigward/files/grafana-dashboard.json'), 'utf8');

async function exported(): Promise<Set<string>> {
  const text = await createMetrics({ processMetrics: false }).text();
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
  }
  return names;
}

test('every sigward_* series the PrometheusRule and the dashboard query is one sigward exports', async () => {
  const names = await exported();
  for (const [file, text] of [
    ['prometheusrule.yaml', rule],
    ['grafana-dashboard.json', dashboard],
  ] as const) {
    const used = new Set([...text.matchAll(/\bsigward_[a-z_]+/g)].map((m) => m[0]));
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
