// Trust material sources: a REAL signed TUF repository over loopback HTTP (custom mirror), refresh
// that keeps the last good root when metadata is expired or the root is unsafe, one refresh at a
// time, the embedded public-good seed, and static files.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustRootStore, embeddedPublicGoodTrustRoot } from '../../src/sigstore/trust-root.ts';
import { SigstoreErrorCode } from '../../src/sigstore/errors.ts';
import { PROD_ROOT_PATH, STAGING_ROOT_PATH } from './ext.ts';
import { TestTufRepo } from './tuf-repo.ts';

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
  dir = mkdtempSync(join(tmpdir(), 'sigward-tuf-test-'));
  writeFileSync(join(dir, 'root.json'), repo.initialRoot);
});
after(() => repo.close());

function store(cache: string, now?: () => Date): TrustRootStore {
  return new TrustRootStore(
    { kind: 'tuf', mirrorURL: repo.url, rootPath: join(dir, 'root.json'), cachePath: join(dir, cache) },
    { timeoutMs: 2000, retries: 0, ...(now ? { now } : {}) },
  );
}

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: { code?: string; message?: string }) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message ?? '', message);
    return true;
  });
}

test('a custom mirror has no root until the first refresh, then the TUF-verified one', async () => {
  const s = store('first');
  assert.equal(s.current(), undefined);
  assert.throws(() => s.require(), { code: SigstoreErrorCode.trustRootUnavailable });
  const snapshot = await s.refresh();
  assert.equal(snapshot.version, version(prodBytes));
  assert.equal(snapshot.source, `tuf:${repo.url}`);
  assert.equal(snapshot.material.tlogs.length > 0, true);
  const status = s.status();
  assert.equal(status.verifiedByTuf, true);
  assert.equal(status.version, version(prodBytes));
  assert.equal(status.lastError, undefined);
  assert.ok(repo.requests.includes('timestamp.json') && repo.requests.includes('targets/trusted_root.json'));
});

test('refresh picks up a newly published root; concurrent refreshes share one run', async () => {
  let clock = new Date('2026-01-01T00:00:00Z');
  const s = store('publish', () => clock);
  await s.refresh();
  clock = new Date('2026-01-01T01:00:00Z');
  assert.equal(s.status().ageSeconds, 3600);
  assert.deepEqual(s.status().lastSuccessAt, new Date('2026-01-01T00:00:00Z'));

  repo.publish({ 'trusted_root.json': stagingBytes });
  repo.requests.length = 0;
  const [a, b] = await Promise.all([s.refresh(), s.refresh()]);
  assert.equal(a, b);
  assert.equal(a.version, version(stagingBytes));
  assert.equal(repo.requests.filter((r) => r === 'timestamp.json').length, 1);
  assert.equal(s.status().ageSeconds, 0); // a new version resets the age

  repo.publish({ 'trusted_root.json': prodBytes }); // back to prod for the other tests
});

test('an EXPIRED timestamp fails the refresh; the last good root stays and the error is reported', async () => {
  const s = store('expired-ts');
  const good = await s.refresh();
  repo.publish({ 'trusted_root.json': stagingBytes }, { timestampExpires: yesterday() });
  try {
    await rejectsWith(s.refresh(), SigstoreErrorCode.trustRootUnavailable, /expired/);
    assert.equal(s.current(), good);
    assert.equal(s.require().version, version(prodBytes));
    const status = s.status();
    assert.equal(status.lastError?.code, SigstoreErrorCode.trustRootUnavailable);
    assert.ok(
      status.lastSuccessAt! < status.lastRefreshAt! ||
        status.lastSuccessAt!.getTime() === status.lastRefreshAt!.getTime(),
    );
    assert.match(status.lastError?.message ?? '', /timestamp.json is expired|expired/);
    // A fresh client (cold cache) cannot get any root from this mirror now.
    const cold = store('expired-ts-cold');
    await rejectsWith(cold.refresh(), SigstoreErrorCode.trustRootUnavailable, /expired/);
    assert.equal(cold.current(), undefined);
  } finally {
    repo.publish({ 'trusted_root.json': prodBytes });
  }
  await s.refresh();
  assert.equal(s.status().lastError, undefined);
});

test('an EXPIRED new root fails the refresh; the last good root stays', async () => {
  const fresh = new TestTufRepo();
  fresh.publish({ 'trusted_root.json': prodBytes });
  await fresh.serve();
  try {
    const rootPath = join(dir, 'fresh-root.json');
    writeFileSync(rootPath, fresh.initialRoot);
    const s = new TrustRootStore(
      { kind: 'tuf', mirrorURL: fresh.url, rootPath, cachePath: join(dir, 'expired-root') },
      { retries: 0 },
    );
    const good = await s.refresh();
    fresh.rotateRoot(yesterday());
    await rejectsWith(s.refresh(), SigstoreErrorCode.trustRootUnavailable, /root.json is expired/);
    assert.equal(s.current(), good);
  } finally {
    await fresh.close();
  }
});

test('a TUF-served root without validFor.start is refused; the last good root stays', async () => {
  const s = store('unsafe');
  const good = await s.refresh();
  const unsafe = JSON.parse(prodBytes.toString()) as {
    certificateAuthorities: Array<{ validFor: Record<string, string> }>;
  };
  delete unsafe.certificateAuthorities[0]!.validFor.start;
  repo.publish({ 'trusted_root.json': Buffer.from(JSON.stringify(unsafe)) });
  try {
    await rejectsWith(
      s.refresh(),
      SigstoreErrorCode.trustRootInvalid,
      /certificateAuthorities\[0\].*validFor.start/,
    );
    assert.equal(s.current(), good);
    assert.equal(s.status().lastError?.code, SigstoreErrorCode.trustRootInvalid);
  } finally {
    repo.publish({ 'trusted_root.json': prodBytes });
  }
});

test('an unreachable mirror fails the refresh with the reason, not silently', async () => {
  const s = new TrustRootStore(
    {
      kind: 'tuf',
      mirrorURL: 'http://127.0.0.1:1',
      rootPath: join(dir, 'root.json'),
      cachePath: join(dir, 'down'),
    },
    { retries: 0, timeoutMs: 500 },
  );
  await rejectsWith(
    s.refresh(),
    SigstoreErrorCode.trustRootUnavailable,
    /TUF refresh from http:\/\/127.0.0.1:1 failed/,
  );
  assert.equal(s.current(), undefined);
});

test('a mirror URL with a user name and password is refused, and neither is shown in the error, its causes or the status', async () => {
  // tuf-js fetches with the global fetch, which refuses a URL with credentials and quotes it whole in
  // its error: the password reached the refresh error, the warn line and the TrustRoot's status.
  const password = 'tuf-mirror-pw-0123';
  const withCredentials = repo.url.replace('http://', `http://alice:${password}@`);
  const s = new TrustRootStore(
    {
      kind: 'tuf',
      mirrorURL: withCredentials,
      rootPath: join(dir, 'root.json'),
      cachePath: join(dir, 'creds'),
    },
    { retries: 0, timeoutMs: 500 },
  );
  const requests = repo.requests.length;
  await rejectsWith(s.refresh(), SigstoreErrorCode.trustRootUnavailable, /user name or password/);
  const error = await s.refresh().catch((e: unknown) => e);
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    assert.ok(!e.message.includes(password), e.message);
    assert.ok(!e.message.includes('alice'), e.message);
  }
  const shown = repo.url.replace('http://', 'http://[redacted]@');
  assert.ok(String(s.status().lastError?.message).startsWith(`TUF refresh from ${shown} failed`));
  assert.ok(!JSON.stringify(s.status()).includes(password));
  assert.equal(repo.requests.length, requests, 'nothing was asked of the mirror');
});

test('background refresh runs at start and on its interval, and stops', async () => {
  const s = store('background');
  s.start(60_000);
  for (let i = 0; i < 100 && !s.current(); i++) await new Promise((r) => setTimeout(r, 20));
  s.stop();
  assert.equal(s.current()?.version, version(prodBytes));
});

test('public-good starts from the trusted root embedded in @sigstore/tuf (no network needed)', () => {
  const s = new TrustRootStore({ kind: 'public-good', cachePath: join(dir, 'pg') });
  const seeds = JSON.parse(
    readFileSync(createRequire(import.meta.url).resolve('@sigstore/tuf/seeds.json'), 'utf8'),
  ) as Record<string, { targets: Record<string, string> }>;
  const seeded = Buffer.from(
    seeds['https://tuf-repo-cdn.sigstore.dev']!.targets['trusted_root.json']!,
    'base64',
  );
  assert.equal(s.require().version, version(seeded));
  assert.equal(s.status().verifiedByTuf, false);
  assert.equal(s.status().source, 'embedded:@sigstore/tuf');
  assert.equal(embeddedPublicGoodTrustRoot().version, version(seeded));
});

test('a static trusted_root.json is loaded once and refresh keeps it', async () => {
  const s = new TrustRootStore({ kind: 'static', trustedRoot: prodBytes, name: 'prod.json' });
  assert.equal(s.require().version, version(prodBytes));
  assert.equal(await s.refresh(), s.require());
  assert.equal(s.status().source, 'file:prod.json');
});
