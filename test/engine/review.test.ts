// The engine end to end over a real registry with real signatures: admitted, denied with the exact
// reason, tags pinned to the verified digest, and the caches: one verification for 200 concurrent
// reviews, refusals cached, registry errors not, a policy change re-verifies.
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { after, before, describe, test } from 'node:test';
import { startDockerRegistry } from '../support/docker-registry.ts';
import type { DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { counterValue } from '../../src/telemetry/metrics.ts';
import { Decider } from '../../src/engine/decide.ts';
import { ReviewEngine } from '../../src/engine/review.ts';
import { buildSnapshot } from '../../src/kube/snapshot.ts';
import { kubewarden, pushLegacySignature } from '../sigstore/discover-fixtures.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import { pushTestImage } from '../support/images.ts';
import { PROD_ROOT_PATH, prodRoot } from '../sigstore/ext.ts';
import { loadTrustRoot } from '../../src/sigstore/trusted-root.ts';
import type { TrustRootSnapshot } from '../../src/sigstore/trust-root.ts';
import { readFileSync } from 'node:fs';
import {
  API,
  clusterPolicy,
  engineUnderTest,
  kubewardenAuthority,
  kubewardenPolicy,
  OTHER_KUBEWARDEN_WORKFLOW,
  pemOf,
  podReview,
  pushFixtures,
  responseOf,
} from './harness.ts';
import type { Fixtures } from './harness.ts';

let registry: DockerRegistry;
let fx: Fixtures;
let host: string;

before(async () => {
  registry = await startDockerRegistry();
  host = registry.host;
  fx = await pushFixtures(host);
});
after(async () => {
  await registry.stop();
});

const keylessPolicy = (subject?: string) => kubewardenPolicy({ subject });
const keyPolicy = () =>
  clusterPolicy(
    'ci-key',
    ['127.0.0.1:*/apps/**'],
    [{ name: 'ci-key', key: { data: pemOf(fx.signer.publicKey) }, insecureIgnoreTlog: true }],
  );

describe('decisions', () => {
  test('a keyless-signed image is admitted; the wrong identity is denied naming expected and found', async () => {
    const ok = engineUnderTest([keylessPolicy()]);
    const admitted = await ok.review(podReview([fx.keylessImage(host)]));
    assert.equal(responseOf(admitted).allowed, true, JSON.stringify(responseOf(admitted)));
    assert.equal(admitted.decision, 'allow');
    await ok.close();

    const wrong = engineUnderTest([keylessPolicy(OTHER_KUBEWARDEN_WORKFLOW)]);
    const denied = responseOf(await wrong.review(podReview([fx.keylessImage(host)])));
    assert.equal(denied.allowed, false);
    assert.equal(denied.status?.code, 403);
    const message = denied.status?.message ?? '';
    assert.match(
      message,
      /in spec\.containers\[0\]\.image: policy kubewarden, authority release-workflow: expected subject "https:\/\/github\.com\/kubewarden\/other/,
    );
    assert.match(
      message,
      new RegExp(`found subject "${kubewarden.subject.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`),
    );
    assert.match(message, /\[IDENTITY_MISMATCH\]$/);
    await wrong.close();
  });

  test('an unsigned image is denied as SIGNATURE_MISSING; an unmatched image per --no-match-action', async () => {
    const e = engineUnderTest([keyPolicy()]);
    const denied = responseOf(await e.review(podReview([fx.unsigned.tagged(host)])));
    assert.equal(denied.allowed, false);
    assert.match(
      denied.status?.message ?? '',
      new RegExp(`digest ${fx.unsigned.digest}.*\\[SIGNATURE_MISSING\\]`),
    );
    const unmatched = responseOf(await e.review(podReview(['docker.io/library/nginx:1.27'])));
    assert.equal(unmatched.allowed, false);
    assert.match(unmatched.status?.message ?? '', /\[NO_POLICY\]/);
    await e.close();
    const lenient = engineUnderTest([keyPolicy()], { evaluation: { unmatched: 'warn', errors: 'deny' } });
    const warned = responseOf(await lenient.review(podReview(['docker.io/library/nginx:1.27'])));
    assert.equal(warned.allowed, true);
    assert.match(warned.warnings?.[0] ?? '', /NO_POLICY/);
    await lenient.close();
  });

  test('pull credentials that cannot be read refuse the image they were for, naming it and the policy (REGISTRY_AUTH)', async () => {
    const credentials = {
      keychainFor: () =>
        Promise.reject(new Error('secret apps/regcred: .dockerconfigjson is not valid JSON')),
    };
    const e = engineUnderTest([keyPolicy()], {}, {}, undefined, { credentials });
    try {
      const image = fx.unsigned.tagged(host);
      const denied = responseOf(await e.review(podReview([image])));
      assert.equal(denied.allowed, false);
      const message = denied.status?.message ?? '';
      assert.match(
        message,
        new RegExp(
          `image ${image.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} in spec\\.containers\\[0\\]\\.image: policy ci-key`,
        ),
      );
      assert.match(
        message,
        /could not read the workload's pull credentials: secret apps\/regcred: .dockerconfigjson is not valid JSON/,
      );
      assert.match(message, /\[REGISTRY_AUTH\]$/);
      // failureOutcome decides a credentials failure as it does any "could not look".
      const lenient = engineUnderTest(
        [keyPolicy()],
        { evaluation: { unmatched: 'deny', errors: 'warn' } },
        {},
        undefined,
        {
          credentials,
        },
      );
      const warned = responseOf(await lenient.review(podReview([image])));
      await lenient.close();
      assert.equal(warned.allowed, true);
      assert.match(warned.warnings?.[0] ?? '', /REGISTRY_AUTH/);
    } finally {
      await e.close();
    }
  });

  test('mutate pins a verified tag to its digest with a test-guarded JSON patch; validate admits it', async () => {
    const e = engineUnderTest([keyPolicy()]);
    const image = fx.keySigned.tagged(host);
    const mutated = responseOf(await e.review(podReview([image]), 'mutate'));
    assert.equal(mutated.allowed, true);
    const patch = JSON.parse(Buffer.from(mutated.patch ?? '', 'base64').toString()) as unknown;
    assert.deepEqual(patch, [
      { op: 'test', path: '/spec/containers/0/image', value: image },
      { op: 'replace', path: '/spec/containers/0/image', value: `${image}@${fx.keySigned.digest}` },
    ]);
    const validated = responseOf(await e.review(podReview([`${image}@${fx.keySigned.digest}`])));
    assert.equal(validated.allowed, true);
    // The pinned reference names the same digest: the validate call was a cache hit.
    assert.equal(await e.verifications(), 1);
    await e.close();
  });
});

describe('keys in Secrets', () => {
  test("a key authority's secretRef is read through the key source (sigward's namespace for a ClusterImagePolicy)", async () => {
    const policy = clusterPolicy(
      'secret-key',
      ['127.0.0.1:*/apps/**'],
      [{ name: 'ci-key', key: { secretRef: { name: 'cosign' } }, insecureIgnoreTlog: true }],
    );
    const reads: string[] = [];
    const e = engineUnderTest([policy], { ownNamespace: 'sigward' });
    const withKeys = new ReviewEngine({
      decider: new Decider(
        {
          resolver: e.registry,
          verifier: e.registry,
          trustRoots: { trustRoot: () => prodRoot() },
          keys: {
            publicKey: async (ref) => {
              reads.push(`${ref.namespace}/${ref.name}/${ref.key}`);
              return fx.signer.publicKey;
            },
          },
        },
        { deadlineMs: 5000, evaluation: { unmatched: 'deny', errors: 'deny' }, ownNamespace: 'sigward' },
      ),
      policies: { current: () => buildSnapshot([policy]) },
      skip: { ownNamespace: 'sigward', scope: 'opt-out' },
    });
    const admitted = await withKeys.handle(podReview([fx.keySigned.tagged(host)]), 'validate');
    assert.ok(admitted.ok);
    assert.equal(responseOf(admitted).allowed, true, JSON.stringify(responseOf(admitted)));
    assert.deepEqual(reads, ['sigward/cosign/cosign.pub']);
    // Without a cluster there is no key source: a clear denial, never an allow.
    const denied = responseOf(await e.review(podReview([fx.keySigned.tagged(host)])));
    assert.equal(denied.allowed, false);
    assert.match(
      denied.status?.message ?? '',
      /keys in Secrets need a cluster connection \[POLICY_INVALID\]/,
    );
    await e.close();
  });
});

describe('audit', () => {
  test('audit mode admits and reports the finding, except on a dry run', async () => {
    const findings: string[] = [];
    const e = engineUnderTest(
      [
        clusterPolicy(
          'audit-key',
          ['127.0.0.1:*/apps/**'],
          [{ name: 'ci-key', key: { data: pemOf(fx.signer.publicKey) }, insecureIgnoreTlog: true }],
          { mode: 'audit' },
        ),
      ],
      {},
      {
        finding: (f) =>
          findings.push(`${f.kind}/${f.namespace}/${f.name}: ${f.outcome}: ${f.failures.join('; ')}`),
      },
    );
    const admitted = await e.review(podReview([fx.unsigned.tagged(host)]));
    assert.equal(responseOf(admitted).allowed, true);
    assert.equal(responseOf(admitted).warnings, undefined);
    assert.equal(admitted.decision, 'audit');
    await e.review(podReview([fx.unsigned.tagged(host)], { dryRun: true }));
    assert.equal(findings.length, 1, findings.join('\n'));
    assert.match(
      findings[0] ?? '',
      /^Pod\/apps\/web: audit: image .*\/apps\/unsigned:v1 in spec\.containers\[0\]\.image: policy audit-key: .*\[SIGNATURE_MISSING\]$/,
    );
    await e.close();
  });
});

describe('cache', () => {
  test('200 concurrent reviews of one uncached image run exactly ONE verification', async () => {
    const e = engineUnderTest([keylessPolicy()]);
    const results = await Promise.all(
      Array.from({ length: 200 }, () => e.review(podReview([fx.keylessImage(host)]))),
    );
    assert.ok(results.every((r) => responseOf(r).allowed));
    assert.equal(await e.verifications(), 1);
    assert.equal(await counterValue(e.metrics.cache, { cache: 'verdict', result: 'miss' }), 1);
    const joined =
      (await counterValue(e.metrics.cache, { cache: 'verdict', result: 'shared' })) +
      (await counterValue(e.metrics.cache, { cache: 'verdict', result: 'hit' }));
    assert.equal(joined, 199);
    await e.close();
  });

  test('1,000 concurrent reviews of one uncached image: exactly ONE registry fetch sequence', async () => {
    const proxy = await startFaultProxy({ upstream: registry.url });
    const paths = (): string[] => proxy.requests.map((r) => `${r.method} ${r.path}`).sort();
    const tagged = `${proxy.host}/apps/api:v1`;
    const keyless = `${proxy.host}/signed/kubewarden@${kubewarden.digest}`;
    try {
      // What ONE review of each image asks of the registry (fresh engine: empty caches and memory).
      const alone = engineUnderTest([keylessPolicy(), keyPolicy()]);
      assert.ok(responseOf(await alone.review(podReview([tagged, keyless]))).allowed);
      await alone.close();
      const one = paths();
      assert.ok(
        one.some((p) => p.includes('/referrers/')) && one.some((p) => p.includes('/blobs/')),
        one.join('\n'),
      );
      proxy.clearRequests();

      const e = engineUnderTest([keylessPolicy(), keyPolicy()]);
      const results = await Promise.all(
        Array.from({ length: 1000 }, () => e.review(podReview([tagged, keyless]))),
      );
      assert.ok(results.every((r) => responseOf(r).allowed));
      const all = paths();
      assert.equal(new Set(all).size, all.length, `a request was repeated:\n${all.join('\n')}`);
      // Whether the second image's discovery still asks the referrers API depends on whether the
      // first one's "no API" answer came back before it started (remembered per registry).
      const besidesReferrers = (list: string[]): string[] => list.filter((p) => !p.includes('/referrers/'));
      assert.deepEqual(besidesReferrers(all), besidesReferrers(one), 'the same requests as one review');
      assert.equal(await e.verifications(), 2);
      await e.close();
    } finally {
      await proxy.close();
    }
  });

  test('a definite refusal is cached; a registry error is not', async () => {
    const e = engineUnderTest([keyPolicy()]);
    const image = `${fx.unsigned.tagged(host).replace(/:v1$/, '')}@${fx.unsigned.digest}`;
    await e.review(podReview([image]));
    await e.review(podReview([image]));
    assert.equal(await e.verifications(), 1, 'unsigned: verified once, then served from the cache');
    await e.close();

    const proxy = await startFaultProxy({ upstream: registry.url });
    const flaky = engineUnderTest([keyPolicy()]);
    const through = `${proxy.host}/apps/api@${fx.keySigned.digest}`;
    const rule = proxy.addFault({
      path: /\/v2\/apps\/api\/manifests\//,
      fault: { kind: 'status', status: 500 },
      times: 1,
    });
    const first = responseOf(await flaky.review(podReview([through])));
    assert.equal(first.allowed, false);
    assert.match(first.status?.message ?? '', /\[REGISTRY_ERROR\]/);
    assert.equal(rule.hits, 1);
    const second = responseOf(await flaky.review(podReview([through])));
    assert.equal(second.allowed, true, 'the error was not cached: verified again, now signed');
    assert.equal(await flaky.verifications(), 2);
    await flaky.close();
    await proxy.close();
  });

  test('a new trust root (other bytes, new version) re-verifies', async () => {
    let root = prodRoot();
    const e = engineUnderTest([keylessPolicy()], {}, {}, () => root);
    await e.review(podReview([fx.keylessImage(host)]));
    await e.review(podReview([fx.keylessImage(host)]));
    assert.equal(await e.verifications(), 1);
    root = loadTrustRoot(Buffer.from(`${readFileSync(PROD_ROOT_PATH, 'utf8')}\n`), 'test:prod-again');
    assert.notEqual(root.version, prodRoot().version);
    await e.review(podReview([fx.keylessImage(host)]));
    assert.equal(await e.verifications(), 2);
    await e.close();
  });

  test('a policy change (new generation) re-verifies; the same spec does not', async () => {
    const e = engineUnderTest([keylessPolicy()]);
    await e.review(podReview([fx.keylessImage(host)]));
    const before = e.setPolicies([keylessPolicy()]);
    await e.review(podReview([fx.keylessImage(host)]));
    assert.equal(await e.verifications(), 1, 'same spec, same generation');
    const changed = e.setPolicies([kubewardenPolicy({ extra: { mode: 'warn' }, generation: 2 })]);
    assert.notEqual(changed.generation, before.generation);
    await e.review(podReview([fx.keylessImage(host)]));
    assert.equal(await e.verifications(), 2);
    await e.close();
  });
});

describe('what the admission line names', () => {
  test('the object (namespace/name), uid, user and reason codes, on every kind of answer', async () => {
    const e = engineUnderTest([keylessPolicy()]);
    try {
      const signed = podReview([`${host}/signed/kubewarden@${kubewarden.digest}`]);
      const allowed = await e.review(signed);
      assert.equal(allowed.decision, 'allow');
      assert.equal(allowed.object, 'apps/web');
      assert.equal(allowed.uid, signed.request.uid);
      assert.equal(allowed.user, 'tester');
      assert.equal(allowed.reasons, undefined);
      assert.equal(allowed.decisions?.length, 1);
      // The same review again: answered from the cache, named the same way.
      const again = await e.review(signed);
      assert.deepEqual({ ...again, review: undefined }, { ...allowed, review: undefined });

      const denied = await e.review(podReview([`${host}/signed/kubewarden:missing`, `${host}/unsigned/x:1`]));
      assert.equal(denied.decision, 'deny');
      assert.equal(denied.object, 'apps/web');
      // Each failed reason code once, in the order found.
      assert.deepEqual(denied.reasons, [
        ...new Set(denied.decisions!.flatMap((d) => d.results.filter((r) => !r.passed).map((r) => r.reason))),
      ]);
      assert.ok(denied.reasons!.length >= 1);

      // Skipped (sigward's own namespace): still named, no decisions.
      const skipped = await e.review(podReview([`${host}/unsigned/x:1`], { namespace: 'sigward' }));
      assert.equal(skipped.decision, 'skip');
      assert.equal(skipped.object, 'sigward/web');
      assert.equal(skipped.decisions, undefined);

      // A malformed review that still has a uid: answered (denied, 400) and named from the raw body.
      const malformed = { ...signed, request: { ...signed.request, operation: 'EXPLODE' } };
      const invalid = await e.review(malformed);
      assert.equal(invalid.decision, 'invalid');
      assert.equal(invalid.object, 'apps/web');
      assert.equal(invalid.uid, signed.request.uid);
      assert.equal(responseOf(invalid).status?.code, 400);

      // Only a name (a cluster-scoped request has no namespace).
      const { namespace: _ns, ...noNamespace } = signed.request;
      const named = await e.review({
        ...signed,
        request: { ...noNamespace, object: { ...signed.request.object, metadata: { name: 'web' } } },
      });
      assert.equal(named.object, 'web');
    } finally {
      await e.close();
    }
  });
});

describe('the cache-hit path', () => {
  test('a cached review creates no timer or other async resource, however far apart the reviews come', async () => {
    const e = engineUnderTest([keylessPolicy()]);
    try {
      const image = `${host}/signed/kubewarden@${kubewarden.digest}`;
      assert.equal((await e.review(podReview([image]))).decision, 'allow'); // verified once
      const created: string[] = [];
      const hook = createHook({
        init: (_id, type) => {
          if (type !== 'PROMISE') created.push(type);
        },
      });
      for (let i = 0; i < 5; i++) {
        // Reviews more than a millisecond apart (a clock cached for 1 ms would be re-armed by a timer).
        const until = performance.now() + 2;
        while (performance.now() < until);
        hook.enable();
        const result = await e.review(podReview([image]));
        hook.disable();
        assert.equal(result.decision, 'allow');
      }
      assert.deepEqual(created, []);
      assert.equal(await e.verifications(), 1);
    } finally {
      await e.close();
    }
  });
});

describe('the cache-hit path: answered at once, decisions reused only for the same inputs', () => {
  test('every site from the caches: the decisions come back at once; one site to look up makes it a promise', async () => {
    const e = engineUnderTest([keylessPolicy(), keyPolicy()]);
    try {
      const signed = `${host}/signed/kubewarden@${kubewarden.digest}`;
      assert.equal((await e.review(podReview([signed]))).decision, 'allow'); // verified once
      const snapshot = e.setPolicies([keylessPolicy(), keyPolicy()]);
      const sites = [{ field: 'spec.containers[0].image', image: signed }];
      const cached = e.decider.decide(sites, { namespace: 'apps' }, snapshot);
      assert.ok(Array.isArray(cached), 'a full cache hit is answered without a promise');
      assert.equal(cached[0]?.outcome, 'allow');
      const notCached = e.decider.decide(
        [...sites, { field: 'spec.containers[1].image', image: fx.unsigned.tagged(host) }],
        { namespace: 'apps' },
        snapshot,
      );
      assert.ok(notCached instanceof Promise, 'an image not cached is looked up');
      const decisions = await notCached;
      assert.deepEqual(
        decisions.map((d) => [d.field, d.outcome]),
        [
          ['spec.containers[0].image', 'allow'],
          ['spec.containers[1].image', 'deny'],
        ],
      );
      assert.equal(await e.verifications(), 2, 'the cached site was not verified again');
    } finally {
      await e.close();
    }
  });

  test('the same image again: the same decision object; another field, policy or answer: a new one that says so', async () => {
    const e = engineUnderTest([keylessPolicy()], { evaluation: { unmatched: 'deny', errors: 'deny' } });
    try {
      const signed = `${host}/signed/kubewarden@${kubewarden.digest}`;
      const decisionsOf = async (images: string[]) => (await e.review(podReview(images))).decisions!;
      await decisionsOf([signed]); // verified
      const [first] = await decisionsOf([signed]);
      const [again] = await decisionsOf([signed]);
      assert.equal(again, first, 'made from the same inputs: handed out again');

      // One image at two fields of a pod (an init container and the main one, say): each field keeps its
      // decision, rather than each site replacing the other's on every review.
      const twice = await decisionsOf([signed, signed]);
      const twiceAgain = await decisionsOf([signed, signed]);
      assert.deepEqual(
        twiceAgain.map((d) => d.field),
        ['spec.containers[0].image', 'spec.containers[1].image'],
      );
      assert.equal(twiceAgain[0], twice[0], 'the first field: handed out again');
      assert.equal(twiceAgain[1], twice[1], 'the second field: handed out again');

      // The same image at another field: that field is named, in the decision and in a denial.
      const elsewhere = await decisionsOf(['registry.example/other:1', signed]);
      assert.equal(elsewhere[1]?.field, 'spec.containers[1].image');
      assert.equal(elsewhere[1]?.outcome, 'allow');
      assert.equal(elsewhere[0]?.outcome, 'deny');
      const [back] = await decisionsOf([signed]);
      assert.equal(back?.field, 'spec.containers[0].image');

      // The same image, field and digest under a policy in warn mode with another identity (a new
      // generation): refused, as a warning, once verified and then from the cache.
      e.setPolicies([
        kubewardenPolicy({ subject: OTHER_KUBEWARDEN_WORKFLOW, extra: { mode: 'warn' }, generation: 2 }),
      ]);
      const warned = await e.review(podReview([signed]));
      assert.equal(warned.decision, 'warn');
      const [cachedRefusal] = (await e.review(podReview([signed]))).decisions!;
      assert.equal(cachedRefusal?.outcome, 'warn');
      assert.equal(cachedRefusal?.results[0]?.reason, 'IDENTITY_MISMATCH');
      assert.notEqual(cachedRefusal, first);
      // A new snapshot whose policy no longer matches: the unmatched rule decides, not the old allow.
      e.setPolicies([clusterPolicy('kubewarden', ['registry.example/**'], [kubewardenAuthority()])]);
      const [unmatched] = await decisionsOf([signed]);
      assert.equal(unmatched?.outcome, 'deny');
      assert.equal(unmatched?.results[0]?.reason, 'NO_POLICY');
      const [stillUnmatched] = await decisionsOf([signed]);
      assert.equal(stillUnmatched, unmatched);
    } finally {
      await e.close();
    }
  });

  test('a trust root gone and back: the decision from the caches follows it (same policies, same verdict)', async () => {
    let root: TrustRootSnapshot | undefined = prodRoot();
    const e = engineUnderTest(
      [keylessPolicy()],
      { evaluation: { unmatched: 'deny', errors: 'audit' } },
      {},
      () => root as TrustRootSnapshot,
    );
    try {
      const signed = `${host}/signed/kubewarden@${kubewarden.digest}`;
      const now = (uid: string) => {
        const body = podReview([signed]);
        body.request.uid = uid;
        const result = e.engine.handleNow(body, 'validate');
        assert.ok(!(result instanceof Promise) && result.ok, 'answered from the caches');
        return result;
      };
      await e.review(podReview([signed])); // verified
      const allowed = now('a-1');
      assert.equal(allowed.decision, 'allow');
      root = undefined;
      const failOpen = ['b-1', 'b-2', 'b-3'].map(now);
      for (const [i, result] of failOpen.entries()) {
        assert.equal(result.decision, 'error-allow');
        assert.equal(result.decisions?.[0]?.results[0]?.passed, false);
        assert.match(result.decisions?.[0]?.results[0]?.detail ?? '', /TrustRoot public-good/);
        assert.equal(responseOf(result).uid, `b-${i + 1}`);
      }
      assert.equal(
        failOpen[1]?.decisions?.[0],
        failOpen[0]?.decisions?.[0],
        'the same reads: the same decision',
      );
      // Counted per review, not once per answer made.
      assert.equal(await counterValue(e.metrics.failOpen, { reason: failOpen[0]!.reasons![0]! }), 3);
      root = prodRoot();
      const back = now('c-1');
      assert.equal(back.decision, 'allow');
      assert.equal(back.decisions?.[0]?.results[0]?.passed, true);
      assert.equal(await e.verifications(), 1);
    } finally {
      await e.close();
    }
  });

  test('a cached answer serialized once: each review gets its own uid, the JSON is JSON.stringify(review)', async () => {
    const e = engineUnderTest([keylessPolicy(), keyPolicy()], {
      evaluation: { unmatched: 'deny', errors: 'deny' },
    });
    try {
      const signed = `${host}/signed/kubewarden@${kubewarden.digest}`;
      const unsigned = fx.unsigned.tagged(host);
      const warned = clusterPolicy('warned', ['127.0.0.1:*/apps/unsigned*'], [kubewardenAuthority()], {
        mode: 'warn',
      });
      const uids = [
        'plain',
        'with "quotes" and \\',
        'ünïcødé ✓',
        'line\nbreak\u0000',
        'lone \ud800 surrogate',
      ];
      for (const images of [[signed], [signed, 'registry.example/other:1'], [unsigned]]) {
        for (const policies of [
          [keylessPolicy(), keyPolicy()],
          [keylessPolicy(), warned],
        ]) {
          e.setPolicies(policies);
          await e.review(podReview(images)); // verified or refused, and cached
          const seen: string[] = [];
          for (const uid of uids) {
            const body = podReview(images);
            body.request.uid = uid;
            const result = await e.review(body);
            assert.ok(result.json !== undefined, `${images.join(',')}: a validating answer carries its JSON`);
            assert.equal(result.json, JSON.stringify(result.review));
            assert.equal(responseOf(result).uid, uid);
            assert.equal(result.uid, uid);
            seen.push(result.decision);
          }
          assert.equal(new Set(seen).size, 1, 'the same answer for every uid');
        }
      }
    } finally {
      await e.close();
    }
  });

  test('an ImagePolicy matches in its namespace only, review after review; each review names its own user', async () => {
    const namespaced = {
      ...clusterPolicy('team-only', ['127.0.0.1:*/signed/**'], [kubewardenAuthority()]),
      kind: 'ImagePolicy',
      metadata: { name: 'team-only', namespace: 'team', generation: 1, uid: 'uid-team-only' },
    };
    const e = engineUnderTest([namespaced], { evaluation: { unmatched: 'deny', errors: 'deny' } });
    try {
      const signed = `${host}/signed/kubewarden@${kubewarden.digest}`;
      const reviewIn = (namespace: string, user: string) => {
        const body = podReview([signed], { namespace });
        body.request.userInfo.username = user;
        return e.review(body);
      };
      assert.equal((await reviewIn('team', 'a')).decision, 'allow'); // verified
      for (const [namespace, user, decision] of [
        ['team', 'alice', 'allow'],
        ['apps', 'bob', 'deny'],
        ['team', 'bob', 'allow'],
        ['apps', 'alice', 'deny'],
      ] as const) {
        const result = await reviewIn(namespace, user);
        assert.equal(result.decision, decision, `${namespace}: ${result.summary ?? ''}`);
        if (decision === 'deny') assert.deepEqual(result.reasons, ['NO_POLICY']);
        assert.equal(result.user, user);
        assert.equal(result.object, `${namespace}/web`);
      }
      assert.equal(await e.verifications(), 1);
    } finally {
      await e.close();
    }
  });

  test('every review answered from the caches counts its hits, also when its decision is handed out again', async () => {
    const e = engineUnderTest([keyPolicy()]);
    try {
      const tagged = fx.keySigned.tagged(host);
      const hits = async () => [
        await counterValue(e.metrics.cache, { cache: 'verdict', result: 'hit' }),
        await counterValue(e.metrics.cache, { cache: 'digest', result: 'hit' }),
      ];
      await e.review(podReview([tagged])); // resolved and verified
      const before = await hits();
      const decisions = [];
      for (let i = 0; i < 5; i++) {
        const result = e.engine.handleNow(podReview([tagged]), 'validate');
        assert.ok(!(result instanceof Promise) && result.ok && result.decision === 'allow');
        decisions.push(result.decisions![0]);
      }
      assert.equal(new Set(decisions).size, 1, 'the same decision handed out again');
      const after = await hits();
      assert.deepEqual([after[0]! - before[0]!, after[1]! - before[1]!], [5, 5]);
    } finally {
      await e.close();
    }
  });

  test('one answer made for many reviews: each review not a dry run reports its own object, a dry run none; mutate still pins', async () => {
    const findings: string[] = [];
    const e = engineUnderTest(
      [keyPolicy()],
      {},
      { finding: (f) => findings.push(`${f.namespace}/${f.name}`) },
    );
    try {
      const unsigned = fx.unsigned.tagged(host);
      const now = (
        name: string,
        dryRun: boolean,
        route: 'validate' | 'mutate' = 'validate',
        image = unsigned,
      ) => {
        const body = podReview([image], { dryRun });
        body.request.name = name;
        body.request.object.metadata.name = name;
        const result = e.engine.handleNow(body, route);
        assert.ok(!(result instanceof Promise) && result.ok, `${name}: answered from the caches`);
        return result;
      };
      await e.review(podReview([unsigned], { dryRun: true })); // refused and cached, nothing reported
      const answers = [now('dry-1', true), now('web-1', false), now('dry-2', true), now('web-2', false)];
      assert.deepEqual(findings, ['apps/web-1', 'apps/web-2']);
      assert.equal(new Set(answers.map((a) => a.decisions?.[0])).size, 1, 'one decision handed out again');
      for (const a of answers) {
        assert.equal(a.decision, 'deny');
        assert.equal(a.json, JSON.stringify(a.review));
      }
      // What the answers share cannot be changed through one of them (the next review's log line).
      assert.throws(() => (answers[0]!.reasons as string[]).push('CHANGED'), TypeError);
      assert.deepEqual(now('web-3', false).reasons, ['SIGNATURE_MISSING']);

      // A validating answer made for an image is never the mutating one: the tag is still pinned.
      const signed = fx.keySigned.tagged(host);
      await e.review(podReview([signed]));
      assert.equal(now('v', false, 'validate', signed).decision, 'allow');
      const mutated = now('m', false, 'mutate', signed);
      assert.equal(mutated.decision, 'pin');
      assert.equal(mutated.json, undefined);
      assert.ok(responseOf(mutated).patch !== undefined);
      assert.equal(responseOf(now('v2', false, 'validate', signed)).patch, undefined);
    } finally {
      await e.close();
    }
  });

  test('a TrustRoot the snapshot names but is not loaded, or one it does not name: each said so from the caches', async () => {
    const mirror = {
      apiVersion: API,
      kind: 'TrustRoot',
      metadata: { name: 'mirror', generation: 1 },
      spec: { tuf: { mirror: 'https://tuf.example.com', root: '{"signed":{},"signatures":[]}' } },
    };
    const policy = clusterPolicy(
      'private',
      ['registry.example/**'],
      [{ ...kubewardenAuthority(), trustRootRef: 'mirror' }],
    );
    const e = engineUnderTest([policy, mirror]);
    try {
      const image = `registry.example/app@${kubewarden.digest}`;
      const now = () => {
        const result = e.engine.handleNow(podReview([image]), 'validate');
        assert.ok(!(result instanceof Promise) && result.ok, 'answered without a lookup');
        assert.equal(result.decision, 'error-deny');
        return result.summary ?? '';
      };
      for (const [resources, why] of [
        [[policy, mirror], 'is not loaded yet'],
        [[policy], 'does not exist'],
        [[policy, mirror], 'is not loaded yet'],
      ] as const) {
        e.setPolicies([...resources]);
        for (let i = 0; i < 2; i++)
          assert.match(now(), new RegExp(`authority release-workflow: the TrustRoot mirror ${why} \\[`));
      }
      assert.equal(await e.verifications(), 0);
    } finally {
      await e.close();
    }
  });

  test('a tag moved to another signed digest: the decision from the caches names and pins the new digest', async () => {
    const client = new RegistryClient();
    const repo = { registry: host, repository: 'apps/moving' };
    const pushSigned = async (): Promise<string> => {
      const image = await pushTestImage(client, repo, { tag: 'v1' });
      await pushLegacySignature(client, repo, image.digest, [
        fx.signer.layerFor(image.digest, `${host}/apps/moving`),
      ]);
      return image.digest;
    };
    const e = engineUnderTest([keyPolicy()]);
    try {
      const tagged = `${host}/apps/moving:v1`;
      const decisionIn = async (namespace: string) =>
        (await e.review(podReview([tagged], { namespace }))).decisions![0]!;
      const first = await pushSigned();
      await decisionIn('apps'); // resolved and verified
      assert.equal((await decisionIn('apps')).pinned, `${tagged}@${first}`);
      const second = await pushSigned();
      // Another namespace resolves the tag itself (tag → digest is remembered per namespace).
      await decisionIn('other'); // resolved to the new digest and verified
      const moved = await decisionIn('other');
      assert.equal(moved.digest, second);
      assert.equal(moved.pinned, `${tagged}@${second}`);
      assert.equal((await decisionIn('apps')).digest, first, 'apps still has its own resolution');
    } finally {
      await e.close();
      await client.close();
    }
  });
});
