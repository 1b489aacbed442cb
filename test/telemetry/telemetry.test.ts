// Logs never carry secrets; metrics have bounded labels and buckets up to 30 s.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/telemetry/logger.ts';
import { counterValue, createMetrics, DURATION_BUCKETS } from '../../src/telemetry/metrics.ts';

test('redaction: tokens, passwords, keys, pull secrets and authorization headers never reach the log', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ destination: sink });
  logger.info(
    {
      credential: { username: 'alice', password: 'hunter2', token: 'tok-123', identityToken: 'idt-9' },
      secret: { data: { '.dockerconfigjson': 'eyJhdXRocyI6e319' } },
      req: { headers: { authorization: 'Bearer abc.def' } },
      key: '-----BEGIN PRIVATE KEY-----',
    },
    'something happened',
  );
  logger.flush();
  const text = lines.join('');
  for (const secret of ['hunter2', 'tok-123', 'idt-9', 'eyJhdXRocyI6e319', 'abc.def', 'PRIVATE KEY'])
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  assert.match(text, /"username":"alice"/);
  assert.match(text, /\[redacted\]/);
});

test('metrics: the documented series, bounded labels, duration buckets to 30 s', async () => {
  let lastSuccessAt: Date | undefined = new Date('2026-01-01T00:00:00Z');
  const m = createMetrics({
    processMetrics: false,
    trustRootFreshness: () => [{ trustRoot: 'public-good', status: { lastSuccessAt } }],
    policyCount: () => 3,
  });
  m.admissions.inc({ decision: 'deny', kind: 'Pod', mode: 'validate', operation: 'CREATE' });
  m.verifications.inc({ policy: 'p', authority: 'a', result: 'refused', reason: 'SIGNATURE_MISSING' });
  m.cache.inc({ cache: 'verdict', result: 'hit' });
  m.registryRequests.inc({ method: 'GET', status: '200' });
  m.failOpen.inc({ reason: 'TIMEOUT' });
  m.trustRootRefreshFailures.inc({ trust_root: 'public-good', reason: 'SIGSTORE_TRUST_ROOT_UNAVAILABLE' });
  m.admissionDuration.observe({ route: 'validate' }, 29);
  m.verificationDuration.observe({ policy: 'p' }, 0.03);
  assert.equal(DURATION_BUCKETS.at(-1), 30);
  const text = await m.text();
  for (const series of [
    'sigward_admissions_total{decision="deny",kind="Pod",mode="validate",operation="CREATE"} 1',
    'sigward_verifications_total{policy="p",authority="a",result="refused",reason="SIGNATURE_MISSING"} 1',
    'sigward_cache_requests_total{cache="verdict",result="hit"} 1',
    'sigward_registry_requests_total{method="GET",status="200"} 1',
    'sigward_fail_open_total{reason="TIMEOUT"} 1',
    'sigward_admission_duration_seconds_bucket{le="30",route="validate"} 1',
    'sigward_verification_duration_seconds_bucket{le="0.05",policy="p"} 1',
    'sigward_trust_root_last_success_timestamp_seconds{trust_root="public-good"} 1767225600',
    'sigward_trust_root_refresh_failures_total{trust_root="public-good",reason="SIGSTORE_TRUST_ROOT_UNAVAILABLE"} 1',
    'sigward_policies 3',
  ])
    assert.ok(text.includes(series), `missing ${series}`);
  lastSuccessAt = undefined; // never succeeded: 0, so `time() - x` is huge and the alert fires
  assert.match(
    await m.text(),
    /sigward_trust_root_last_success_timestamp_seconds\{trust_root="public-good"\} 0\n/,
  );
  assert.equal(await counterValue(m.failOpen), 1);
});
