// What an operator's log collector and Prometheus get from the real `./bin/sigward webhook`: stdout is
// JSON lines only (load, TUF refreshes, admissions, shutdown); the admission line carries the request
// uid, the user and the reason codes as fields; each TrustRoot refresh logs one line naming the root
// and its version, success (a real signed TUF repository on loopback) or failure (a mirror that is
// down); /metrics has Node's standard default names, the route label and fail-open series at 0.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { POLICY_API_VERSION } from '../../src/policy/types.ts';
import { ERROR_REASONS } from '../../src/policy/decision.ts';
import { PROD_ROOT_PATH, REPO_ROOT } from '../sigstore/ext.ts';
import { TestTufRepo } from '../sigstore/tuf-repo.ts';
import { startWebhook } from './webhook-process.ts';

const prodRoot = readFileSync(PROD_ROOT_PATH);
const prodVersion = `sha256:${createHash('sha256').update(prodRoot).digest('hex')}`;

let repo: TestTufRepo;
before(async () => {
  repo = new TestTufRepo();
  repo.publish({ 'trusted_root.json': prodRoot });
  await repo.serve();
});
after(() => repo.close());

/** A loopback port nobody listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const trustRoot = (name: string, mirror: string) => ({
  apiVersion: POLICY_API_VERSION,
  kind: 'TrustRoot',
  metadata: { name },
  spec: { tuf: { mirror, root: repo.initialRoot.toString() } },
});

test(
  'stdout is JSON lines only; TUF refreshes and admissions are logged with their fields; /metrics names',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sigward-logs-'));
    writeFileSync(join(dir, 'mirror.json'), JSON.stringify(trustRoot('mirror', repo.url)));
    const down = `http://127.0.0.1:${await closedPort()}`;
    writeFileSync(join(dir, 'unreachable.json'), JSON.stringify(trustRoot('unreachable', down)));
    const webhook = await startWebhook([`--policies=${dir}`, `--trusted-root=${PROD_ROOT_PATH}`]);
    let code: number | null | undefined;
    try {
      const refreshed = await webhook.waitFor(
        'the mirror refreshed',
        (r) => r.msg === 'trust root refreshed' && r['trustRoot'] === 'mirror',
      );
      assert.equal(refreshed.level, 30);
      assert.equal(refreshed['version'], prodVersion);
      assert.equal(refreshed['source'], `tuf:${repo.url}`);
      const failed = await webhook.waitFor(
        'the unreachable mirror failed',
        (r) =>
          r.msg === 'trust root refresh failed; keeping the last good root' &&
          r['trustRoot'] === 'unreachable',
      );
      assert.equal(failed.level, 40);
      assert.equal(failed['reason'], 'SIGSTORE_TRUST_ROOT_UNAVAILABLE');
      assert.equal(failed['version'], 'none', 'never loaded: no last good root');
      assert.match(String(failed['err']), new RegExp(`127\\.0\\.0\\.1:${down.split(':').at(-1)}`));

      const review = readFileSync(join(REPO_ROOT, 'examples/admission/pod-unmatched.json'), 'utf8');
      const { request } = JSON.parse(review) as { request: { uid: string; userInfo: { username: string } } };
      assert.equal((await webhook.post('/validate', review)).status, 200);
      assert.equal((await webhook.post('/mutate', review)).status, 200);
      assert.equal((await webhook.post('/validate', '{"not":"a review"}')).status, 400);
      const admissions = await webhook.waitFor(
        'the admission lines',
        (r) => r.msg === 'not an AdmissionReview',
      );
      assert.equal(admissions['decision'], 'invalid');
      const lines = webhook.records().filter((r) => r.msg === 'admission');
      assert.deepEqual(
        lines.map((r) => ({
          route: r['route'],
          decision: r['decision'],
          uid: r['uid'],
          user: r['user'],
          reasons: r['reasons'],
        })),
        [
          {
            route: 'validate',
            decision: 'deny',
            uid: request.uid,
            user: request.userInfo.username,
            reasons: ['NO_POLICY'],
          },
          {
            route: 'mutate',
            decision: 'allow',
            uid: request.uid,
            user: request.userInfo.username,
            reasons: ['NO_POLICY'],
          },
        ],
      );

      const metrics = (await webhook.get('/metrics')).body;
      for (const reason of ERROR_REASONS)
        assert.match(metrics, new RegExp(`^sigward_fail_open_total\\{reason="${reason}"\\} 0$`, 'm'), reason);
      assert.match(metrics, /^process_cpu_user_seconds_total \d/m);
      assert.match(metrics, /^nodejs_eventloop_lag_seconds \d/m);
      assert.doesNotMatch(metrics, /^sigward_(process|nodejs)_/m);
      assert.match(
        metrics,
        /^sigward_admissions_total\{decision="deny",kind="Pod",route="validate",operation="CREATE"\} 1$/m,
      );
      assert.match(
        metrics,
        /^sigward_admissions_total\{decision="allow",kind="Pod",route="mutate",operation="CREATE"\} 1$/m,
      );
      assert.match(
        metrics,
        /^sigward_admissions_total\{decision="invalid",kind="unknown",route="validate",operation="unknown"\} 1$/m,
      );
      assert.match(
        metrics,
        /^sigward_trust_root_refresh_failures_total\{trust_root="unreachable",reason="SIGSTORE_TRUST_ROOT_UNAVAILABLE"\} [1-9]/m,
      );
    } finally {
      code = await webhook.stop();
    }
    assert.equal(code, 0);
    // Every line, to the last one (shutdown), parses as JSON: records() fails on one that does not.
    const records = webhook.records();
    assert.equal(webhook.stdout().endsWith('\n'), true);
    // One `listening` line, sigward's: fastify's own "Server listening at …" (one per address) is not repeated.
    assert.equal(records.filter((r) => /listening/i.test(String(r.msg))).length, 1);
    assert.ok(records.some((r) => r.msg === 'listening'));
    assert.ok(records.some((r) => String(r.msg).startsWith('shutting down')));
    assert.doesNotMatch(webhook.stdout(), /BEGIN CERTIFICATE/);
  },
);

test(
  'log lines are batched yet prompt: a lone admission line appears with no more traffic, and every line is out after SIGTERM',
  { timeout: 60_000 },
  async () => {
    const webhook = await startWebhook([]);
    let code: number | null | undefined;
    const body = readFileSync(join(REPO_ROOT, 'examples/admission/pod-unmatched.json'), 'utf8');
    try {
      // One review (far less than a batch): its line comes on its own, without another line or exit.
      assert.equal((await webhook.post('/validate', body)).status, 200);
      await webhook.waitFor('the admission line', (r) => r.msg === 'admission');
      // Many reviews, then stop at once: the batch still buffered is written before the process ends.
      for (let i = 0; i < 60; i++) assert.equal((await webhook.post('/validate', body)).status, 200);
    } finally {
      code = await webhook.stop();
    }
    assert.equal(code, 0);
    assert.equal(webhook.records().filter((r) => r.msg === 'admission').length, 61);
    assert.ok(webhook.records().some((r) => String(r.msg).startsWith('shutting down')));
  },
);
