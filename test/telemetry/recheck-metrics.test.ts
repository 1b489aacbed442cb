// The re-check's metrics: sigward_recheck_violations{policy,result} read at scrape time, staying at 0
// once a violation is fixed (so `== 0` holds after a fix rather than the series vanishing), and the
// round, decision and report-failure counters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics } from '../../src/telemetry/metrics.ts';

test('violations by policy and result, 0 once fixed; rounds, decisions and report failures counted', async () => {
  let now = [
    { policy: 'release-signed', result: 'fail', count: 2 },
    { policy: 'team/web', result: 'warn', count: 1 },
  ];
  const m = createMetrics({ processMetrics: false, recheckViolations: () => now });
  m.recheckRounds.inc({ trigger: 'policy' });
  m.recheckDecisions.inc({ result: 'fail' });
  m.recheckReportFailures.inc();
  let text = await m.text();
  for (const series of [
    'sigward_recheck_violations{policy="release-signed",result="fail"} 2',
    'sigward_recheck_violations{policy="team/web",result="warn"} 1',
    'sigward_recheck_rounds_total{trigger="policy"} 1',
    'sigward_recheck_decisions_total{result="fail"} 1',
    'sigward_recheck_report_write_failures_total 1',
  ])
    assert.ok(text.includes(series), `missing ${series}`);
  now = [{ policy: 'team/web', result: 'warn', count: 1 }];
  text = await m.text();
  assert.ok(text.includes('sigward_recheck_violations{policy="release-signed",result="fail"} 0'), text);
  assert.ok(text.includes('sigward_recheck_violations{policy="team/web",result="warn"} 1'));
});
