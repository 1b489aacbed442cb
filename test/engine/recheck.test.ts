// The continuous re-check's scheduler (engine/recheck.ts) over the real engine (Decider, verdict cache)
// and a real registry (Debian's docker-registry) holding images signed here with a key: a round
// decides each distinct running digest once whatever the number of Pods and namespaces; a policy
// change (new generation) makes a running Pod a violation, reported once, and reverting clears it;
// the digest in status.containerStatuses[].imageID is what gets verified, not the spec's tag; new and
// deleted Pods are handled alone (no new round); decisions wait on the token bucket (a real
// TokenBucket on a clock the test moves); the periodic round re-decides through the verdict cache.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RegistryClient } from '../../src/oci/client.ts';
import { RecheckScheduler } from '../../src/engine/recheck.ts';
import type { PodRecheck, RecheckViolation, RecheckTrigger } from '../../src/engine/recheck.ts';
import type { RunningPod } from '../../src/engine/recheck-sites.ts';
import { TokenBucket } from '../../src/kube/token-bucket.ts';
import { counterValue } from '../../src/telemetry/metrics.ts';
import { startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import { pushTestImage } from '../support/images.ts';
import { pushLegacySignature, testSigner } from '../sigstore/discover-fixtures.ts';
import type { TestSigner } from '../sigstore/discover-fixtures.ts';
import { Decider } from '../../src/engine/decide.ts';
import type { DeciderDeps } from '../../src/engine/decide.ts';
import { RegistryAccess } from '../../src/engine/registry-adapters.ts';
import { anonymousKeychain, staticKeychain } from '../../src/oci/auth.ts';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import { prodRoot } from '../sigstore/ext.ts';
import { clusterPolicy, engineUnderTest, pemOf } from './harness.ts';

let registry: DockerRegistry;
let host: string;
let signer: TestSigner;
let other: TestSigner;
/** apps/api:v1 signed with `signer`; apps/api:v2 and apps/web:v1 also signed; apps/api@unsigned not. */
const digests = { v1: '', v2: '', web: '', unsigned: '' };

before(async () => {
  registry = await startDockerRegistry();
  host = registry.host;
  signer = testSigner();
  other = testSigner();
  const client = new RegistryClient();
  try {
    const api = { registry: host, repository: 'apps/api' };
    const web = { registry: host, repository: 'apps/web' };
    digests.v1 = (await pushTestImage(client, api, { tag: 'v1' })).digest;
    digests.v2 = (await pushTestImage(client, api, { tag: 'v2' })).digest;
    digests.web = (await pushTestImage(client, web, { tag: 'v1' })).digest;
    digests.unsigned = (await pushTestImage(client, api, { tag: 'unsigned' })).digest;
    for (const [repo, digest] of [
      [api, digests.v1],
      [api, digests.v2],
      [web, digests.web],
    ] as const)
      await pushLegacySignature(client, repo, digest, [
        signer.layerFor(digest, `${host}/${repo.repository}`),
      ]);
  } finally {
    await client.close();
  }
});
after(async () => {
  await registry.stop();
});

const keyPolicy = (key: TestSigner, generation: number) =>
  clusterPolicy(
    'ci-key',
    ['127.0.0.1:*/apps/**'],
    [{ name: 'ci-key', key: { data: pemOf(key.publicKey) }, insecureIgnoreTlog: true }],
    {},
    generation,
  );

function pod(namespace: string, name: string, image: string, imageID?: string): RunningPod {
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    uid: `uid-${namespace}-${name}`,
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, uid: `uid-${namespace}-${name}` },
      spec: { containers: [{ name: 'app', image }] },
      status: imageID === undefined ? {} : { containerStatuses: [{ name: 'app', imageID }] },
    },
  };
}

/** A Pod running `repo:tag` of the test registry at `digest` (its status says so). */
const running = (namespace: string, name: string, repoTag: string, digest: string): RunningPod =>
  pod(namespace, name, `${host}/${repoTag}`, `${host}/${repoTag.replace(/:[^:/]+$/, '')}@${digest}`);

/** A scheduler over the real engine; writes, violations and rounds recorded; the clock moved by sleeps. */
function recheckUnderTest(
  options: { burst?: number; perSecond?: number; labels?: Record<string, Record<string, string>> } = {},
) {
  const e = engineUnderTest([keyPolicy(signer, 1)]);
  let snapshot = e.setPolicies([keyPolicy(signer, 1)]);
  let now = 0;
  const slept: number[] = [];
  const writes: Array<{ namespace: string; pods: readonly PodRecheck[] }> = [];
  const violations: RecheckViolation[] = [];
  const rounds: RecheckTrigger[] = [];
  const decisions: string[] = [];
  let periodic: (() => void) | undefined;
  const scheduler = new RecheckScheduler(
    {
      decider: e.decider,
      policies: { current: () => snapshot },
      limit: new TokenBucket({
        burst: options.burst ?? 100,
        perSecond: options.perSecond ?? 100,
        now: () => now,
      }),
      skip: { ownNamespace: 'sigward', scope: 'opt-out' },
      namespaceLabels: (ns) => options.labels?.[ns] ?? {},
      sink: {
        write: async (namespace, pods) => {
          writes.push({ namespace, pods });
        },
        managedNamespaces: async () => ['gone'],
      },
      observer: {
        round: (trigger) => rounds.push(trigger),
        decision: (result) => decisions.push(result),
        violation: (v) => violations.push(v),
      },
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
      every: (_ms, run) => {
        periodic = run;
        return () => (periodic = undefined);
      },
    },
    { intervalMs: 60_000 },
  );
  return {
    e,
    scheduler,
    writes,
    violations,
    rounds,
    decisions,
    slept,
    setPolicies(resources: unknown[]) {
      snapshot = e.setPolicies(resources);
      scheduler.policiesChanged();
    },
    periodic: () => periodic?.(),
    /** Pods changed (and gone), then everything they caused done. */
    async check(upserted: RunningPod[], removed: string[] = []) {
      scheduler.podsChanged(upserted, removed);
      await scheduler.idle();
    },
    lastWrite: (namespace: string) => [...writes].reverse().find((w) => w.namespace === namespace),
    async close() {
      await scheduler.stop();
      await e.close();
    },
  };
}

/** The engine's Decider over `registry`, with these credentials or key Secrets (public-good root). */
function deciderOver(registry: RegistryAccess, deps: Pick<DeciderDeps, 'credentials' | 'keys'>): Decider {
  return new Decider(
    {
      resolver: registry,
      verifier: registry,
      trustRoots: { trustRoot: (name) => (name === 'public-good' ? prodRoot() : undefined) },
      ...deps,
    },
    { deadlineMs: 5000, evaluation: { unmatched: 'deny', errors: 'deny' }, ownNamespace: 'sigward' },
  );
}

const resultsOf = (r: PodRecheck | undefined) =>
  r?.decisions.flatMap((d) => d.results.map((x) => `${x.policy ?? ''}:${x.passed ? 'pass' : x.reason}`));

describe('continuous re-check scheduler', () => {
  test("a Pod's controller as kube/ read it (podController) is what its result names", async () => {
    const t = recheckUnderTest();
    try {
      await t.scheduler.start();
      const owned = {
        ...running('team-a', 'api-1', 'apps/api:v1', digests.v1),
        owner: { kind: 'Job', name: 'nightly' },
      };
      await t.check([owned, running('team-a', 'bare', 'apps/api:v1', digests.v1)]);
      assert.deepEqual(t.scheduler.resultOf('team-a/api-1')?.pod.owner, { kind: 'Job', name: 'nightly' });
      assert.equal(t.scheduler.resultOf('team-a/bare')?.pod.owner, undefined);
    } finally {
      await t.close();
    }
  });

  test('one round decides each running digest once, across Pods and namespaces; reports per namespace', async () => {
    const t = recheckUnderTest();
    try {
      await t.scheduler.start();
      await t.check(
        [
          running('team-a', 'api-1', 'apps/api:v1', digests.v1),
          running('team-a', 'api-2', 'apps/api:v1', digests.v1),
          pod('team-b', 'api-3', `${host}/apps/api@${digests.v1}`, `${host}/apps/api@${digests.v1}`),
          running('team-b', 'web-1', 'apps/web:v1', digests.web),
        ],
        [],
      );
      t.scheduler.podsSynced();
      await t.scheduler.idle();
      assert.deepEqual(t.decisions, ['pass', 'pass'], 'two distinct digests: two decisions');
      assert.equal(await t.e.verifications(), 2, 'two verifications actually run');
      assert.deepEqual(resultsOf(t.scheduler.resultOf('team-b/api-3')), ['ci-key:pass']);
      const a = t.lastWrite('team-a');
      assert.deepEqual(a?.pods.map((p) => p.pod.name).sort(), ['api-1', 'api-2']);
      assert.equal(a?.pods[0]?.decisions[0]?.digest, digests.v1);
      assert.equal(a?.pods[0]?.decisions[0]?.image, `${host}/apps/api:v1`, 'the image as the Pod names it');
      assert.equal(a?.pods[0]?.decisions[0]?.field, 'spec.containers[0].image');
      // A namespace that held an earlier report and has no Pod now gets an empty write (the report goes).
      assert.deepEqual(t.lastWrite('gone')?.pods, []);
      assert.deepEqual(t.violations, []);
      assert.deepEqual(t.rounds, ['start']);
    } finally {
      await t.close();
    }
  });

  test('a policy change excluding the signer makes running Pods violations (reported once); reverting clears them', async () => {
    const t = recheckUnderTest();
    try {
      await t.scheduler.start();
      t.scheduler.podsChanged(
        [
          running('team-a', 'api-1', 'apps/api:v1', digests.v1),
          running('team-a', 'api-2', 'apps/api:v1', digests.v1),
        ],
        [],
      );
      t.setPolicies([keyPolicy(other, 2)]);
      await t.scheduler.idle();
      assert.deepEqual(t.rounds, ['start', 'policy']);
      assert.deepEqual(t.decisions, ['pass', 'fail'], 'the new generation decides the digest once');
      assert.deepEqual(resultsOf(t.scheduler.resultOf('team-a/api-1')), ['ci-key:SIGNATURE_INVALID']);
      assert.deepEqual(t.violations.map((v) => v.name).sort(), ['api-1', 'api-2']);
      assert.match(
        t.violations[0]!.failures[0]!,
        new RegExp(
          `^image ${host}/apps/api:v1 in spec\\.containers\\[0\\]\\.image: policy ci-key: .*\\[SIGNATURE_INVALID\\]$`,
        ),
      );
      // The same snapshot again (no new generation): no round, no second Event.
      t.scheduler.policiesChanged();
      await t.scheduler.idle();
      assert.equal(t.rounds.length, 2);
      // A periodic round finding the same failures reports no new violation.
      t.periodic();
      await t.scheduler.idle();
      assert.equal(t.violations.length, 2);
      t.setPolicies([keyPolicy(signer, 3)]);
      await t.scheduler.idle();
      assert.deepEqual(resultsOf(t.scheduler.resultOf('team-a/api-1')), ['ci-key:pass']);
      assert.deepEqual(
        t
          .lastWrite('team-a')
          ?.pods.flatMap((p) => p.decisions.flatMap((d) => d.results.map((r) => r.passed))),
        [true, true],
      );
      assert.equal(t.violations.length, 2, 'passing again records no violation');
    } finally {
      await t.close();
    }
  });

  test('the digest the Pod runs (status imageID) is verified, not what its tag points at now', async () => {
    const t = recheckUnderTest();
    try {
      await t.scheduler.start();
      // The tag v1 is signed, but this Pod runs the unsigned digest of the same repository.
      await t.check([running('team-a', 'drifted', 'apps/api:v1', digests.unsigned)]);
      const r = t.scheduler.resultOf('team-a/drifted');
      assert.equal(r?.decisions[0]?.digest, digests.unsigned);
      assert.deepEqual(resultsOf(r), ['ci-key:SIGNATURE_MISSING']);
      assert.equal(await counterValue(t.e.metrics.cache, { cache: 'digest' }), 0, 'no tag resolved');
      // Without a usable imageID (a bare config digest), the spec's tag is resolved: v1, signed.
      await t.check([pod('team-a', 'no-status', `${host}/apps/api:v1`, `sha256:${'a'.repeat(64)}`)]);
      const s = t.scheduler.resultOf('team-a/no-status');
      assert.equal(s?.decisions[0]?.digest, digests.v1);
      assert.deepEqual(resultsOf(s), ['ci-key:pass']);
    } finally {
      await t.close();
    }
  });

  test('Pod changes are incremental: a new Pod with a known digest costs no decision; a gone Pod leaves the report', async () => {
    const t = recheckUnderTest();
    try {
      await t.scheduler.start();
      await t.check([running('team-a', 'api-1', 'apps/api:v1', digests.v1)]);
      assert.equal(t.decisions.length, 1);
      await t.check([running('team-a', 'api-2', 'apps/api:v1', digests.v1)]);
      assert.equal(t.decisions.length, 1, 'same digest, same round: no new decision');
      assert.deepEqual(t.rounds, ['start'], 'no new round for a Pod change');
      assert.deepEqual(
        t
          .lastWrite('team-a')
          ?.pods.map((p) => p.pod.name)
          .sort(),
        ['api-1', 'api-2'],
      );
      // A changed Pod (new image) is decided alone.
      await t.check([running('team-a', 'api-2', 'apps/api:v2', digests.v2)]);
      assert.equal(t.decisions.length, 2);
      assert.equal(t.scheduler.resultOf('team-a/api-2')?.decisions[0]?.digest, digests.v2);
      await t.check([], ['team-a/api-1']);
      assert.deepEqual(
        t.lastWrite('team-a')?.pods.map((p) => p.pod.name),
        ['api-2'],
      );
      await t.check([], ['team-a/api-2']);
      assert.deepEqual(t.lastWrite('team-a')?.pods, [], 'no Pod left: an empty write removes the report');
      assert.equal(t.scheduler.resultOf('team-a/api-2'), undefined);
    } finally {
      await t.close();
    }
  });

  test('Pods in sigward’s own namespace, kube-system and excluded namespaces are not re-checked', async () => {
    const t = recheckUnderTest({ labels: { optout: { 'sigward.dev/exclude': 'true' } } });
    try {
      await t.scheduler.start();
      await t.check(
        [
          pod('sigward', 'self', `${host}/apps/api:v1`),
          pod('kube-system', 'dns', `${host}/apps/api:v1`),
          pod('optout', 'web', `${host}/apps/api:v1`),
        ],
        [],
      );
      assert.deepEqual(t.decisions, []);
      assert.equal(t.scheduler.resultOf('sigward/self'), undefined);
      assert.equal(t.writes.filter((w) => w.namespace !== 'gone').length, 0);
    } finally {
      await t.close();
    }
  });

  test('decisions not yet made wait on the token bucket; the periodic round re-decides through the verdict cache', async () => {
    const t = recheckUnderTest({ burst: 1, perSecond: 2 });
    try {
      await t.scheduler.start();
      await t.check(
        [
          running('team-a', 'a', 'apps/api:v1', digests.v1),
          running('team-a', 'b', 'apps/api:v2', digests.v2),
          running('team-a', 'c', 'apps/web:v1', digests.web),
          running('team-a', 'd', 'apps/web:v1', digests.web),
        ],
        [],
      );
      assert.equal(t.decisions.length, 3);
      // One token at once, two a second: the second and third decisions each waited 500 ms.
      assert.equal(
        t.slept.reduce((a, b) => a + b, 0),
        1000,
      );
      assert.equal(await t.e.verifications(), 3);
      t.periodic();
      await t.scheduler.idle();
      assert.deepEqual(t.rounds, ['start', 'periodic']);
      assert.equal(t.decisions.length, 6, 'the periodic round decides every digest again');
      assert.equal(await t.e.verifications(), 3, 'through the verdict cache: nothing verified again');
      assert.equal(
        t.slept.reduce((a, b) => a + b, 0),
        2500,
        'and within the same budget',
      );
    } finally {
      await t.close();
    }
  });
});

describe('continuous re-check against a registry that needs the Pod’s pull secret', () => {
  const PULLER = { username: 'puller', password: 'puller-password' };
  let privateRegistry: DockerRegistry;
  let digest = '';

  before(async () => {
    privateRegistry = await startDockerRegistry({
      auth: { kind: 'htpasswd', users: { [PULLER.username]: PULLER.password } },
    });
    const client = new RegistryClient({
      keychain: staticKeychain({ [privateRegistry.host]: { kind: 'basic', ...PULLER } }),
    });
    try {
      const repo = { registry: privateRegistry.host, repository: 'apps/private' };
      digest = (await pushTestImage(client, repo, { tag: 'v1' })).digest;
      await pushLegacySignature(client, repo, digest, [
        signer.layerFor(digest, `${privateRegistry.host}/apps/private`),
      ]);
    } finally {
      await client.close();
    }
  });
  after(async () => {
    await privateRegistry.stop();
  });

  test('a decision that could not tell (no credentials) is not shared with a Pod that has them', async () => {
    const registryAccess = new RegistryAccess({ maxRetries: 0 });
    const snapshot = buildSnapshot([keyPolicy(signer, 1)]);
    // The Pod's pull secrets as kube/ would read them: `regcred` holds the puller's password.
    const decider = deciderOver(registryAccess, {
      credentials: {
        keychainFor: async (w) =>
          w.imagePullSecrets?.includes('regcred') === true
            ? staticKeychain({ [privateRegistry.host]: { kind: 'basic', ...PULLER } })
            : anonymousKeychain,
      },
    });
    const decisions: string[] = [];
    const scheduler = new RecheckScheduler(
      {
        decider,
        policies: { current: () => snapshot },
        limit: new TokenBucket({ burst: 100, perSecond: 100 }),
        skip: { ownNamespace: 'sigward', scope: 'opt-out' },
        sink: { write: async () => undefined },
        observer: { decision: (r) => decisions.push(r) },
      },
      { intervalMs: 0, concurrency: 1 },
    );
    const image = `${privateRegistry.host}/apps/private:v1`;
    const imageID = `${privateRegistry.host}/apps/private@${digest}`;
    const withSecret = pod('team-a', 'with-secret', image, imageID);
    const spec = withSecret.object['spec'] as Record<string, unknown>;
    try {
      await scheduler.start();
      scheduler.podsChanged(
        [
          pod('team-a', 'anonymous', image, imageID),
          {
            ...withSecret,
            object: { ...withSecret.object, spec: { ...spec, imagePullSecrets: [{ name: 'regcred' }] } },
          },
          pod('team-a', 'anonymous-2', image, imageID),
        ],
        [],
      );
      await scheduler.idle();
      assert.deepEqual(resultsOf(scheduler.resultOf('team-a/anonymous')), ['ci-key:REGISTRY_AUTH']);
      assert.deepEqual(resultsOf(scheduler.resultOf('team-a/with-secret')), ['ci-key:pass']);
      assert.deepEqual(resultsOf(scheduler.resultOf('team-a/anonymous-2')), ['ci-key:REGISTRY_AUTH']);
      assert.deepEqual(decisions, ['error', 'pass'], 'one try per credentials, not per Pod');
    } finally {
      await scheduler.stop();
      await registryAccess.close();
    }
  });
});

describe('continuous re-check triggers: trust material and key Secrets', () => {
  test('an earlier leader’s report in a namespace with no Pod goes, also when the first listing failed', async () => {
    const e = engineUnderTest([keyPolicy(signer, 1)]);
    const snapshot = e.setPolicies([keyPolicy(signer, 1)]);
    const writes: string[] = [];
    let listings = 0;
    const failures: string[] = [];
    const scheduler = new RecheckScheduler(
      {
        decider: e.decider,
        policies: { current: () => snapshot },
        limit: new TokenBucket({ burst: 100, perSecond: 100 }),
        skip: { ownNamespace: 'sigward', scope: 'opt-out' },
        sink: {
          write: async (namespace, pods) => {
            writes.push(`${namespace}:${pods.length}`);
          },
          managedNamespaces: async () => {
            if (++listings === 1) throw new Error('storage is (re)initializing');
            return ['old', 'team-a'];
          },
        },
        observer: { sinkFailed: (namespace) => failures.push(namespace) },
      },
      { intervalMs: 0 },
    );
    try {
      await scheduler.start();
      scheduler.podsSynced();
      await scheduler.idle();
      assert.deepEqual(failures, ['*']);
      assert.deepEqual(writes, []);
      scheduler.podsChanged([running('team-a', 'api', 'apps/api:v1', digests.v1)], []);
      await scheduler.idle();
      assert.deepEqual(writes.sort(), ['old:0', 'team-a:1'], 'old emptied (its report goes); team-a written');
      assert.equal(listings, 2);
    } finally {
      await scheduler.stop();
      await e.close();
    }
  });

  test('a new trust-root version starts a round; the same version again does not', async () => {
    const t = recheckUnderTest();
    try {
      await t.scheduler.start();
      await t.check([running('team-a', 'api', 'apps/api:v1', digests.v1)]);
      t.scheduler.trustRootsChanged('public-good=v1');
      t.scheduler.trustRootsChanged('public-good=v1');
      await t.scheduler.idle();
      assert.deepEqual(t.rounds, ['start']);
      t.scheduler.trustRootsChanged('public-good=v2');
      await t.scheduler.idle();
      assert.deepEqual(t.rounds, ['start', 'trust-root']);
      assert.equal(t.decisions.length, 2, 'the digest decided again under the new root');
    } finally {
      await t.close();
    }
  });

  test('a rotated or deleted key Secret starts a round that reports the running Pod; restoring it clears it', async () => {
    // Key Secrets as kube/'s SecretPublicKeys hands them out (a stand-in: the Secret reads themselves are
    // tested in test/kube/secret-reads.test.ts and e2e/key-secrets.e2e.ts).
    const secrets = new Map<string, TestSigner>([['sigward/ci-pub/cosign.pub', signer]]);
    const keys = {
      publicKey: async (ref: { namespace: string; name: string; key: string }) => {
        const held = secrets.get(`${ref.namespace}/${ref.name}/${ref.key}`);
        if (held === undefined)
          throw Object.assign(new Error(`the key Secret ${ref.namespace}/${ref.name} does not exist`), {
            code: 'POLICY_KEY_UNAVAILABLE',
          });
        return held.publicKey;
      },
    };
    const registryAccess = new RegistryAccess({ maxRetries: 0 });
    const snapshot = buildSnapshot([
      clusterPolicy(
        'ci-key',
        ['127.0.0.1:*/apps/**'],
        [{ name: 'ci-key', key: { secretRef: { name: 'ci-pub' } }, insecureIgnoreTlog: true }],
      ),
    ]);
    const decider = deciderOver(registryAccess, { keys });
    const rounds: RecheckTrigger[] = [];
    const violations: RecheckViolation[] = [];
    // What SecretPublicKeys.onChange hands the re-check: fired when any read (admission's) sees a change.
    let keyChanged: (() => Promise<void>) | undefined;
    const scheduler = new RecheckScheduler(
      {
        decider,
        policies: { current: () => snapshot },
        limit: new TokenBucket({ burst: 100, perSecond: 100 }),
        skip: { ownNamespace: 'sigward', scope: 'opt-out' },
        keys,
        keyChanges: (listener) => {
          keyChanged = listener;
          return () => (keyChanged = undefined);
        },
        sink: { write: async () => undefined },
        observer: { round: (r) => rounds.push(r), violation: (v) => violations.push(v) },
        every: () => () => undefined,
      },
      { intervalMs: 0 },
    );
    try {
      await scheduler.start();
      scheduler.podsChanged([running('team-a', 'api', 'apps/api:v1', digests.v1)], []);
      await scheduler.idle();
      assert.deepEqual(resultsOf(scheduler.resultOf('team-a/api')), ['ci-key:pass']);
      await scheduler.checkKeys();
      assert.deepEqual(rounds, ['start'], 'unchanged key: no round');

      secrets.set('sigward/ci-pub/cosign.pub', other);
      await scheduler.checkKeys();
      await scheduler.idle();
      assert.deepEqual(rounds, ['start', 'key']);
      assert.deepEqual(resultsOf(scheduler.resultOf('team-a/api')), ['ci-key:SIGNATURE_INVALID']);
      assert.equal(violations.length, 1);

      secrets.delete('sigward/ci-pub/cosign.pub');
      await scheduler.checkKeys();
      await scheduler.idle();
      assert.deepEqual(rounds, ['start', 'key', 'key']);
      assert.deepEqual(resultsOf(scheduler.resultOf('team-a/api')), ['ci-key:POLICY_INVALID']);
      assert.match(violations.at(-1)?.failures[0] ?? '', /ci-pub/);

      secrets.set('sigward/ci-pub/cosign.pub', signer);
      await scheduler.checkKeys();
      await scheduler.idle();
      assert.deepEqual(resultsOf(scheduler.resultOf('team-a/api')), ['ci-key:pass']);

      // A change another read noticed starts the round without waiting for the poll.
      secrets.set('sigward/ci-pub/cosign.pub', other);
      await keyChanged?.();
      await scheduler.idle();
      assert.deepEqual(rounds, ['start', 'key', 'key', 'key', 'key']);
      assert.deepEqual(resultsOf(scheduler.resultOf('team-a/api')), ['ci-key:SIGNATURE_INVALID']);
      await scheduler.stop();
      assert.equal(keyChanged, undefined, 'stopping (leadership lost) unsubscribes');
    } finally {
      await scheduler.stop();
      await registryAccess.close();
    }
  });
});
