// What `helm install` prints after installing the chart (templates/NOTES.txt), rendered by the real
// helm without a cluster (`--dry-run=client`). An admin who installs with the defaults must be told
// that every unmatched image is now refused, and which namespaces are never checked.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chartDir, helmOffline } from './world/chart.ts';

/** The NOTES section `helm install --dry-run=client` prints with these `--set` values. */
function notes(...sets: string[]): string {
  const r = helmOffline([
    'install',
    'sigward',
    chartDir,
    '--namespace=sigward',
    '--dry-run=client',
    ...sets.flatMap((s) => ['--set', s]),
  ]);
  assert.equal(r.status, 0, r.stderr);
  const at = r.stdout.indexOf('\nNOTES:\n');
  assert.notEqual(at, -1, 'helm printed NOTES');
  return r.stdout.slice(at);
}

describe('chart: what helm install prints', () => {
  test('the defaults refuse every unmatched image, and the notes say so and how to soften it', () => {
    const text = notes();
    assert.match(text, /Images no policy matches: deny\./);
    assert.match(
      text,
      /WARNING: .* refused with NO_POLICY unless a\nClusterImagePolicy or ImagePolicy covers/,
    );
    assert.match(
      text,
      /helm upgrade sigward charts\/sigward -n sigward --reuse-values --set webhook\.noMatchAction=warn/,
    );
  });

  test('with noMatchAction warn there is no warning; every never-checked namespace is listed', () => {
    const text = notes('webhook.noMatchAction=warn', 'webhook.excludeNamespaces={cni,sigward}');
    assert.doesNotMatch(text, /WARNING/);
    assert.match(text, /never kube-system, sigward, cni\./);
  });

  test('opt-out with failurePolicy Fail: node agents outside kube-system are pointed at excludeNamespaces', () => {
    assert.match(
      notes(),
      /A CNI, CSI driver or other node agent running outside kube-system: add its namespace to\nwebhook\.excludeNamespaces/,
    );
    assert.doesNotMatch(notes('webhook.scope=opt-in'), /node agent/);
    assert.doesNotMatch(notes('webhook.failurePolicy=Ignore'), /node agent/);
  });
});
