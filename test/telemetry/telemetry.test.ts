// Logs never carry secrets; metrics have bounded labels and buckets up to 30 s.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { BOUND_SERIES_LIMIT } from '../../src/telemetry/bound-metrics.ts';
import { createLogger, isoTimeAt } from '../../src/telemetry/logger.ts';
import {
  counterValue,
  createMetrics,
  DURATION_BUCKETS,
  REGISTRY_LABEL_LIMIT,
} from '../../src/telemetry/metrics.ts';

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

test('log time: the same ISO 8601 text as toISOString, across milliseconds, seconds, days and years', () => {
  const starts = [0, Date.UTC(2026, 11, 31, 23, 59, 59, 990), Date.UTC(2024, 1, 29, 12, 0, 0, 0), Date.now()];
  for (const start of starts)
    for (let now = start; now < start + 2100; now += 7)
      // Twice: the lines of one millisecond share its text.
      for (let again = 0; again < 2; again++)
        assert.equal(isoTimeAt(now), `,"time":"${new Date(now).toISOString()}"`);
  // Going back in time (a clock step) is formatted just as well.
  assert.equal(isoTimeAt(5), ',"time":"1970-01-01T00:00:00.005Z"');
  assert.equal(isoTimeAt(1_000_999), ',"time":"1970-01-01T00:16:40.999Z"');
  assert.equal(isoTimeAt(1_000_999), ',"time":"1970-01-01T00:16:40.999Z"');
  assert.equal(isoTimeAt(5), ',"time":"1970-01-01T00:00:00.005Z"');
});

test('log lines carry the ISO time of the moment they are written', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const before = Date.now();
  createLogger({ destination: sink }).info('hello');
  const after = Date.now();
  const time = Date.parse((JSON.parse(lines.join('')) as { time: string }).time);
  assert.ok(time >= before && time <= after, `${time} not within ${before}..${after}`);
});

test('metrics: the documented series, bounded labels, duration buckets to 30 s', async () => {
  let lastSuccessAt: Date | undefined = new Date('2026-01-01T00:00:00Z');
  const m = createMetrics({
    processMetrics: false,
    trustRootFreshness: () => [{ trustRoot: 'public-good', status: { lastSuccessAt } }],
    policyCount: () => 3,
  });
  m.admissions.inc({ decision: 'deny', kind: 'Pod', route: 'validate', operation: 'CREATE' });
  m.verifications.inc({ policy: 'p', authority: 'a', result: 'refused', reason: 'SIGNATURE_MISSING' });
  m.cache.inc({ cache: 'verdict', result: 'hit' });
  m.registryExchange({ host: 'registry.example:5000', method: 'GET', outcome: 200 });
  m.registryExchange({ host: 'registry.example:5000', method: 'GET', outcome: 'REGISTRY_TIMEOUT' });
  m.failOpen.inc({ reason: 'TIMEOUT' });
  m.trustRootRefreshFailures.inc({ trust_root: 'public-good', reason: 'SIGSTORE_TRUST_ROOT_UNAVAILABLE' });
  m.admissionDuration.observe({ route: 'validate' }, 29);
  m.verificationDuration.observe({ policy: 'p' }, 0.03);
  assert.equal(DURATION_BUCKETS.at(-1), 30);
  const text = await m.text();
  for (const series of [
    'sigward_admissions_total{decision="deny",kind="Pod",route="validate",operation="CREATE"} 1',
    'sigward_verifications_total{policy="p",authority="a",result="refused",reason="SIGNATURE_MISSING"} 1',
    'sigward_cache_requests_total{cache="verdict",result="hit"} 1',
    'sigward_registry_requests_total{registry="registry.example:5000",method="GET",status="200"} 1',
    'sigward_registry_request_errors_total{registry="registry.example:5000",method="GET",error="REGISTRY_TIMEOUT"} 1',
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
  assert.doesNotMatch(
    text,
    /registry_requests_total\{[^}]*status="REGISTRY_/,
    'an error code is not a status',
  );
});

test('metrics: Node default metrics keep their standard names (process_*, nodejs_*), no sigward_ prefix', async () => {
  const text = await createMetrics().text();
  for (const name of [
    'process_cpu_user_seconds_total',
    'process_start_time_seconds',
    'nodejs_eventloop_lag_seconds',
  ])
    assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  assert.doesNotMatch(text, /^# TYPE sigward_(process|nodejs)_/m);
  // Every sigward series is sigward's own: the default ones are not prefixed twice or mixed in.
  const own = [...text.matchAll(/^# TYPE (sigward_\S+)/gm)].map((m) => m[1]);
  assert.ok(own.length > 5 && own.every((n) => !/^sigward_(process|nodejs)_/.test(n ?? '')), own.join());
});

test('metrics: fail-open series exist at 0 from the start, for every reason the caller names', async () => {
  const m = createMetrics({ processMetrics: false, failOpenReasons: ['TIMEOUT', 'REGISTRY_ERROR'] });
  const text = await m.text();
  assert.match(text, /^sigward_fail_open_total\{reason="TIMEOUT"\} 0$/m);
  assert.match(text, /^sigward_fail_open_total\{reason="REGISTRY_ERROR"\} 0$/m);
  m.failOpen.inc({ reason: 'TIMEOUT' });
  assert.match(await m.text(), /^sigward_fail_open_total\{reason="TIMEOUT"\} 1$/m);
});

test('metrics: registry hosts are labelled up to the limit, the rest count as other', async () => {
  const m = createMetrics({ processMetrics: false });
  for (let i = 0; i < REGISTRY_LABEL_LIMIT + 5; i++)
    m.registryExchange({ host: `r${i}.example`, method: 'GET', outcome: 200 });
  m.registryExchange({ host: 'r0.example', method: 'GET', outcome: 200 });
  const text = await m.text();
  const hosts = new Set(
    [...text.matchAll(/sigward_registry_requests_total\{registry="([^"]+)"/g)].map((x) => x[1]),
  );
  assert.equal(hosts.size, REGISTRY_LABEL_LIMIT + 1);
  assert.match(text, /sigward_registry_requests_total\{registry="other",method="GET",status="200"\} 5/);
  assert.match(text, /sigward_registry_requests_total\{registry="r0\.example",method="GET",status="200"\} 2/);
});

test('metrics: bound admission and cache series count by their own labels, read at any time, never twice', async () => {
  const m = createMetrics({ processMetrics: false });
  const labels = (decision: string, kind: string, route: string, operation: string) => ({
    decision,
    kind,
    route,
    operation,
  });
  // Interleaved label sets, one of them also counted through the Counter itself.
  for (let i = 0; i < 5; i++) {
    m.countAdmission('allow', 'Pod', 'validate', 'CREATE');
    if (i % 2 === 0) m.countAdmission('deny', 'Pod', 'validate', 'CREATE');
    m.countAdmission('allow', 'Deployment', 'mutate', 'UPDATE');
    m.cacheLookup('verdict', 'hit');
  }
  m.admissions.inc(labels('allow', 'Pod', 'validate', 'CREATE'));
  m.cacheLookup('digest', 'miss');
  assert.equal(await counterValue(m.admissions, labels('allow', 'Pod', 'validate', 'CREATE')), 6);
  assert.equal(await counterValue(m.admissions, labels('deny', 'Pod', 'validate', 'CREATE')), 3);
  assert.equal(await counterValue(m.admissions, labels('allow', 'Deployment', 'mutate', 'UPDATE')), 5);
  assert.equal(await counterValue(m.admissions, { decision: 'allow', kind: 'Pod', route: 'mutate' }), 0);
  // Read again, then more: counts handed over once, the new ones added.
  assert.equal(await counterValue(m.admissions), 14);
  m.countAdmission('deny', 'Pod', 'validate', 'CREATE');
  const text = await m.text();
  assert.match(
    text,
    /^sigward_admissions_total\{decision="allow",kind="Pod",route="validate",operation="CREATE"\} 6$/m,
  );
  assert.match(
    text,
    /^sigward_admissions_total\{decision="deny",kind="Pod",route="validate",operation="CREATE"\} 4$/m,
  );
  assert.match(text, /^sigward_cache_requests_total\{cache="verdict",result="hit"\} 5$/m);
  assert.match(text, /^sigward_cache_requests_total\{cache="digest",result="miss"\} 1$/m);
  assert.equal(await counterValue(m.admissions), 15);
});

test('metrics: label sets beyond the bound series limit are still counted, each under its own labels', async () => {
  const m = createMetrics({ processMetrics: false });
  for (let round = 0; round < 2; round++)
    for (let i = 0; i < BOUND_SERIES_LIMIT + 10; i++)
      m.countAdmission('allow', `Kind${i}`, 'validate', 'CREATE');
  for (const i of [0, BOUND_SERIES_LIMIT - 1, BOUND_SERIES_LIMIT, BOUND_SERIES_LIMIT + 9])
    assert.equal(await counterValue(m.admissions, { kind: `Kind${i}` }), 2, `Kind${i}`);
  assert.equal(await counterValue(m.admissions), 2 * (BOUND_SERIES_LIMIT + 10));
});

test('metrics: the bound duration histogram exports what prom-client exports for the same observations', async () => {
  const m = createMetrics({ processMetrics: false });
  const reference = new Registry();
  const theirs = new Histogram({
    name: 'sigward_admission_duration_seconds',
    help: 'Time from receiving an admission review to answering it',
    labelNames: ['route'],
    buckets: DURATION_BUCKETS,
    registers: [reference],
  });
  const observations: Array<['validate' | 'mutate', number]> = [
    ['validate', 0.0001],
    ['validate', 0.005], // on a bucket's bound: counted in it (le)
    ['mutate', 0.07],
    ['validate', 2.5],
    ['validate', 31], // above the last bucket: +Inf only
    ['mutate', 0],
  ];
  const bound = m.admissionDuration.series({ route: 'validate' });
  for (const [route, seconds] of observations) {
    if (route === 'validate') bound.observe(seconds);
    else m.admissionDuration.observe({ route }, seconds);
    theirs.observe({ route }, seconds);
  }
  const ours = (await m.text())
    .split('\n\n')
    .find((block) => block.includes('# TYPE sigward_admission_duration_seconds '));
  assert.equal(ours, (await reference.metrics()).trimEnd());
  assert.throws(() => bound.observe(Number.NaN), /finite/);
});

test('metrics: the verification counts and times (bound series) export what prom-client exports for the same calls', async () => {
  const m = createMetrics({ processMetrics: false });
  const reference = new Registry();
  const counts = new Counter({
    name: 'sigward_verifications_total',
    help: 'Signature verifications actually run (cache misses), by policy, authority, result and reason code',
    labelNames: ['policy', 'authority', 'result', 'reason'],
    registers: [reference],
  });
  const times = new Histogram({
    name: 'sigward_verification_duration_seconds',
    help: 'Time of one verification run (cache miss): discovery, fetches and crypto, by policy',
    labelNames: ['policy'],
    buckets: DURATION_BUCKETS,
    registers: [reference],
  });
  const calls: Array<[string, string, string, string, number]> = [
    ['signed-images', 'keyless', 'verified', 'VERIFIED', 0.004],
    ['signed-images', 'keyless', 'verified', 'VERIFIED', 0.005], // on a bucket's bound: counted in it
    ['release', 'release-key', 'refused', 'SIGNATURE_MISSING', 0.3],
    ['signed-images', 'keyless', 'error', 'REGISTRY_UNAVAILABLE', 31], // above the last bucket: +Inf only
    ['release', 'keyless', 'verified', 'VERIFIED', 0],
  ];
  for (const [policy, authority, result, reason, seconds] of calls) {
    m.countVerification(policy, authority, result, reason);
    m.verificationDuration.observe({ policy }, seconds);
    counts.inc({ policy, authority, result, reason });
    times.observe({ policy }, seconds);
  }
  // The Counter itself still counts, into the same series (bound counts reach it when it is read, so
  // a series it counts first may come first: the lines are compared as a set, as Prometheus reads them).
  m.verifications.inc({
    policy: 'release',
    authority: 'release-key',
    result: 'refused',
    reason: 'SIGNATURE_MISSING',
  });
  counts.inc({ policy: 'release', authority: 'release-key', result: 'refused', reason: 'SIGNATURE_MISSING' });
  const lines = (text: string): string[] =>
    text
      .trimEnd()
      .split('\n\n')
      .filter((block) => /# TYPE sigward_verification(s_total|_duration_seconds) /.test(block))
      .flatMap((block) => block.split('\n'))
      .sort();
  assert.deepEqual(lines(await m.text()), lines(await reference.metrics()));
  assert.equal(await counterValue(m.verifications, { policy: 'release' }), 3);
  assert.throws(() => m.verificationDuration.observe({ policy: 'p' }, Number.NaN), /finite/);
});
