// The trust roots by TrustRoot name and how fresh each one is: a REAL signed TUF repository over
// loopback (a failed refresh keeps the last good root, shows in the metric and the refresh state, and
// the time since the last success keeps growing until a success resets it, bytes changed or not), a
// --trusted-root file re-read on change (a bad new file keeps the last good root), ConfigMap roots
// re-read when kube/ reports a change, and inline roots that do not load.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { TrustRootRegistry } from '../../src/engine/trust-roots.ts';
import type { ConfigMapRef, TrustRootRegistryOptions } from '../../src/engine/trust-roots.ts';
import { SigwardError } from '../../src/errors.ts';
import { compileTrustRoot } from '../../src/policy/compile.ts';
import type { CompiledTrustRoot } from '../../src/policy/compile.ts';
import { POLICY_API_VERSION } from '../../src/policy/types.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { PROD_ROOT_PATH, STAGING_ROOT_PATH } from '../sigstore/ext.ts';
import { TestTufRepo } from '../sigstore/tuf-repo.ts';

const prodBytes = readFileSync(PROD_ROOT_PATH);
const stagingBytes = readFileSync(STAGING_ROOT_PATH);
const version = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const yesterday = (): string => new Date(Date.now() - 24 * 3600 * 1000).toISOString();

let repo: TestTufRepo;
let dir: string;
before(async () => {
  repo = new TestTufRepo();
  repo.publish({ 'trusted_root.json': prodBytes });
  await repo.serve();
  dir = mkdtempSync(join(tmpdir(), 'sigward-trust-roots-'));
});
after(() => repo.close());

function trustRoots(specs: Record<string, object>): Map<string, CompiledTrustRoot> {
  const out = new Map<string, CompiledTrustRoot>();
  for (const [name, spec] of Object.entries(specs)) {
    const { trustRoot, errors } = compileTrustRoot({
      apiVersion: POLICY_API_VERSION,
      kind: 'TrustRoot',
      metadata: { name, generation: 1 },
      spec,
    });
    assert.deepEqual(errors, []);
    out.set(name, trustRoot);
  }
  return out;
}

/** A registry whose refresh failures land in a real Metrics, wired as `sigward webhook` wires them. */
function registry(options: TrustRootRegistryOptions = {}) {
  const errors: Array<{ name: string; error: SigwardError | undefined }> = [];
  const metrics = createMetrics({ processMetrics: false, trustRootFreshness: () => registry.statuses() });
  const registry: TrustRootRegistry = new TrustRootRegistry({
    refreshMs: 0,
    checkMs: 0,
    cacheDir: mkdtempSync(join(dir, 'cache-')),
    ...options,
    refreshed: (name, error) => {
      errors.push({ name, error });
      if (error) metrics.trustRootRefreshFailures.inc({ trust_root: name, reason: error.code });
    },
  });
  const series = async (name: string): Promise<string[]> =>
    (await metrics.text()).split('\n').filter((l) => l.startsWith(name));
  const lastSuccess = async (root: string): Promise<number> => {
    const line = (await series('sigward_trust_root_last_success_timestamp_seconds')).find((l) =>
      l.includes(`trust_root="${root}"`),
    );
    assert.ok(line, `no freshness series for ${root}`);
    return Number(line.split(' ').at(-1));
  };
  return { registry, errors, metrics, series, lastSuccess };
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await delay(10);
  }
}

test('a TUF TrustRoot: a failed refresh shows in the metric and the state, the time since the last success keeps growing, a success resets it', async (t) => {
  const { registry: r, series, lastSuccess } = registry();
  t.after(() => r.stop());
  r.sync(trustRoots({ mirror: { tuf: { mirror: repo.url, root: repo.initialRoot.toString() } } }));
  assert.equal(await r.refresh('mirror'), undefined);
  assert.equal(r.trustRoot('mirror')?.version, version(prodBytes));
  assert.deepEqual(r.refreshState('mirror'), {
    ok: true,
    reason: 'Refreshed',
    message: `root ${version(prodBytes)} from tuf:${repo.url}`,
  });
  const first = await lastSuccess('mirror');
  assert.ok(Math.abs(first - Date.now() / 1000) < 5, String(first));

  // Unchanged bytes, refreshed again: the last success moves (the old age metric did not).
  await until('a later second', () => Date.now() / 1000 - first > 0.05);
  assert.equal(await r.refresh('mirror'), undefined);
  const second = await lastSuccess('mirror');
  assert.ok(second > first, `${second} > ${first}`);

  repo.publish({ 'trusted_root.json': stagingBytes }, { timestampExpires: yesterday() });
  try {
    const error = await r.refresh('mirror');
    assert.equal(error?.code, 'SIGSTORE_TRUST_ROOT_UNAVAILABLE');
    assert.equal(r.trustRoot('mirror')?.version, version(prodBytes), 'the last good root stays');
    const state = r.refreshState('mirror');
    assert.equal(state?.ok, false);
    assert.equal(state?.reason, 'RefreshFailed');
    assert.match(state?.message ?? '', /^\[SIGSTORE_TRUST_ROOT_UNAVAILABLE\] .*expired/);
    assert.match(
      state?.message ?? '',
      /; still verifying with the last good root sha256:[0-9a-f]{64} from tuf:/,
    );
    assert.ok(
      (await series('sigward_trust_root_refresh_failures_total')).includes(
        'sigward_trust_root_refresh_failures_total{trust_root="mirror",reason="SIGSTORE_TRUST_ROOT_UNAVAILABLE"} 1',
      ),
    );
    // Failing again: the timestamp stays put, so time() - it grows with the clock.
    await r.refresh('mirror');
    assert.equal(await lastSuccess('mirror'), second);
  } finally {
    repo.publish({ 'trusted_root.json': prodBytes });
  }
  assert.equal(await r.refresh('mirror'), undefined);
  assert.ok((await lastSuccess('mirror')) > second, 'a success resets the age');
  assert.equal(r.refreshState('mirror')?.ok, true);
});

test('a TUF TrustRoot that never refreshed is 0 (never), and the public-good seed alone is no success', async (t) => {
  const { registry: r, lastSuccess } = registry();
  t.after(() => r.stop());
  r.sync(trustRoots({ down: { tuf: { mirror: 'http://127.0.0.1:1', root: repo.initialRoot.toString() } } }));
  assert.equal((await r.refresh('down'))?.code, 'SIGSTORE_TRUST_ROOT_UNAVAILABLE');
  assert.equal(await lastSuccess('down'), 0);
  assert.match(r.refreshState('down')?.message ?? '', /no root is loaded: .*\[TRUST_ROOT_ERROR\]$/);
  // The embedded public-good root serves, but nothing refreshed it yet.
  assert.ok(r.trustRoot('public-good') !== undefined);
  assert.equal(await lastSuccess('public-good'), 0);
  assert.equal(r.refreshState('public-good'), undefined);
});

test('--trusted-root file: re-read on change; a bad new file keeps the last good root and is reported', async (t) => {
  const file = join(dir, 'trusted_root.json');
  writeFileSync(file, prodBytes);
  const { registry: r, errors } = registry({ trustedRootFile: file, filePollMs: 20 });
  t.after(() => r.stop());
  assert.equal(r.trustRoot('public-good')?.version, version(prodBytes));
  assert.equal(r.trustRoot('public-good')?.source, `file:${file}`);

  writeFileSync(file, stagingBytes);
  await until('the new file is loaded', () => r.trustRoot('public-good')?.version === version(stagingBytes));

  writeFileSync(file, '{"mediaType": "not a trusted root", "truncated');
  await until('the bad file is reported', () => errors.some((e) => e.error !== undefined));
  const failed = errors.find((e) => e.error !== undefined)!;
  assert.equal(failed.name, 'public-good');
  assert.equal(failed.error?.code, 'SIGSTORE_TRUST_ROOT_INVALID');
  assert.equal(r.trustRoot('public-good')?.version, version(stagingBytes), 'never drops to no root');
  assert.match(r.refreshState('public-good')?.message ?? '', /still verifying with the last good root/);
  assert.equal(r.loaded, true);

  writeFileSync(file, prodBytes);
  await until('the good file is back', () => r.trustRoot('public-good')?.version === version(prodBytes));
  assert.equal(r.refreshState('public-good')?.ok, true);
});

test('TUF cache directory: none for a --trusted-root file, one for public-good', (t) => {
  const file = join(dir, 'trusted_root-no-cache.json');
  writeFileSync(file, prodBytes);
  // os.tmpdir() follows TMPDIR: each registry below makes its cache directory (if any) in its own.
  const inTemp = (make: () => TrustRootRegistry): string[] => {
    const temp = mkdtempSync(join(dir, 'tmp-'));
    const previous = process.env['TMPDIR'];
    process.env['TMPDIR'] = temp;
    try {
      const r = make();
      t.after(() => r.stop());
      assert.ok(r.trustRoot('public-good') !== undefined);
    } finally {
      if (previous === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = previous;
    }
    return readdirSync(temp);
  };
  assert.deepEqual(
    inTemp(() => new TrustRootRegistry({ refreshMs: 0, checkMs: 0, trustedRootFile: file })),
    [],
  );
  const publicGood = inTemp(() => new TrustRootRegistry({ refreshMs: 0, checkMs: 0 }));
  assert.equal(publicGood.length, 1);
  assert.match(publicGood[0]!, /^sigward-tuf-/);
});

test('a ConfigMap TrustRoot: tracked, re-read when the ConfigMap changes, a missing key keeps the last good root', async (t) => {
  // The ConfigMap side is a small in-memory port here; kube/'s watch against the apiserver is e2e.
  let content: string | undefined = prodBytes.toString();
  let tracked: readonly ConfigMapRef[] = [];
  const { registry: r, lastSuccess } = registry({
    configMaps: {
      track: (refs) => (tracked = refs),
      read: (ref) => {
        if (content === undefined)
          return Promise.reject(
            new SigwardError('KUBE_CONFIGMAP_KEY_MISSING', `configmap ${ref.name} has no key ${ref.key}`),
          );
        return Promise.resolve(content);
      },
      where: (ref) => `${ref.namespace ?? 'sigward'}/${ref.name}`,
    },
  });
  t.after(() => r.stop());
  r.sync(trustRoots({ held: { configMapRef: { name: 'roots', namespace: 'ops' } } }));
  assert.deepEqual(tracked, [
    { kind: 'configMap', name: 'roots', namespace: 'ops', key: 'trusted_root.json' },
  ]);
  await until('the first read', () => r.trustRoot('held') !== undefined);
  assert.equal(r.trustRoot('held')?.version, version(prodBytes));
  assert.equal(r.trustRoot('held')?.source, 'configmap:ops/roots#trusted_root.json');

  content = stagingBytes.toString();
  r.configMapsChanged();
  await until('the replaced root', () => r.trustRoot('held')?.version === version(stagingBytes));

  content = undefined;
  const stamp = await lastSuccess('held');
  assert.equal((await r.refresh('held'))?.code, 'KUBE_CONFIGMAP_KEY_MISSING');
  assert.equal(r.trustRoot('held')?.version, version(stagingBytes));
  assert.equal(await lastSuccess('held'), stamp);
  assert.match(r.refreshState('held')?.message ?? '', /has no key trusted_root\.json/);

  // The TrustRoot gone: no more watch, no more series.
  r.sync(new Map());
  assert.deepEqual(tracked, []);
  assert.equal(r.trustRoot('held'), undefined);
  assert.deepEqual(
    r.statuses().map((s) => s.trustRoot),
    ['public-good'],
  );
});

test('an inline TrustRoot that does not load is reported (state and metric), not silently missing', async (t) => {
  const { registry: r, series } = registry();
  t.after(() => r.stop());
  r.sync(
    trustRoots({ good: { trustedRoot: prodBytes.toString() }, broken: { trustedRoot: '{"tlogs": 3}' } }),
  );
  await until(
    'both checked',
    () => r.refreshState('good') !== undefined && r.refreshState('broken') !== undefined,
  );
  assert.equal(r.refreshState('good')?.ok, true);
  assert.equal(r.trustRoot('broken'), undefined);
  assert.match(r.refreshState('broken')?.message ?? '', /^\[SIGSTORE_TRUST_ROOT_INVALID\] /);
  assert.ok(
    (await series('sigward_trust_root_refresh_failures_total')).includes(
      'sigward_trust_root_refresh_failures_total{trust_root="broken",reason="SIGSTORE_TRUST_ROOT_INVALID"} 1',
    ),
  );
});

test('a TrustRoot of another name with spec.publicGood is the public-good root, and hears of its refreshes', async (t) => {
  const file = join(dir, 'alias_trusted_root.json');
  writeFileSync(file, prodBytes);
  const { registry: r, errors, lastSuccess } = registry({ trustedRootFile: file });
  t.after(() => r.stop());
  r.sync(trustRoots({ 'sigstore-public': { publicGood: {} } }));
  assert.equal(r.trustRoot('sigstore-public'), r.trustRoot('public-good'));
  assert.deepEqual(
    r.statuses().map((s) => s.trustRoot),
    ['public-good', 'sigstore-public'],
  );
  errors.length = 0;
  assert.equal(await r.refresh('public-good'), undefined);
  assert.deepEqual(
    errors.map((e) => e.name),
    ['public-good', 'sigstore-public'],
  );
  assert.equal(await lastSuccess('sigstore-public'), await lastSuccess('public-good'));
  assert.equal(r.refreshState('sigstore-public')?.ok, true);
});
