// README "Logs and metrics" lists every series the webhook exports, with every label it has: an
// operator writes alerts and dashboards from that table, so a series missing from it (or listed
// without a label it has) is a doc that lies by omission.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { REPO_ROOT } from '../sigstore/ext.ts';

/** The rows of the README's metrics table: the series named in the first cell, the second cell's text. */
function metricRows(): Array<{ names: string[]; labels: string }> {
  const readme = readFileSync(`${REPO_ROOT}/README.md`, 'utf8');
  const start = readme.indexOf('**Metrics**');
  assert.notEqual(start, -1, 'README has a **Metrics** table');
  const rows: Array<{ names: string[]; labels: string }> = [];
  for (const line of readme.slice(start).split('\n').slice(1)) {
    if (rows.length > 0 && !line.startsWith('|')) break;
    if (!line.startsWith('| `')) continue;
    const [, first = '', second = ''] = line.split('|');
    rows.push({ names: [...first.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!), labels: second });
  }
  return rows;
}

test('every sigward_ series is in the README metrics table with each of its labels', () => {
  const rows = metricRows();
  const metrics = createMetrics({ processMetrics: false });
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const { name, labelNames } = metric as unknown as { name: string; labelNames: readonly string[] };
    const row = rows.find((r) => r.names.includes(name));
    assert.ok(row !== undefined, `${name} is not in the README metrics table`);
    for (const label of labelNames)
      assert.ok(row.labels.includes(`\`${label}\``), `README lists ${name} without its label ${label}`);
  }
});
