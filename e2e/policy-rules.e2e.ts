// The policy rules that count signatures, through the REAL apiserver and the host webhook, with images
// signed keylessly by cosign v3 with apiserver service-account tokens:
// - `threshold: 2` with two authorities that both accept one signature is met (distinct authorities,
//   not the first match), and with only one accepting it is denied `1 of 2 … [THRESHOLD_NOT_MET]`;
// - `multiArch: index` admits `repo:tag@sha256:<platform>` through the signed index the tag names,
//   and denies the same digest without its tag, saying there is no index to find;
// - `multiArch: all-platforms` refuses a signed index with no runnable platform (INDEX_WITHOUT_PLATFORMS).
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { stepsNotingFailure } from './world/failing-steps.ts';
import { podManifest } from './world/chart.ts';
import {
  applyClusterPolicy,
  cosignSignAs,
  installCrds,
  keylessAuthority,
  observedPolicy,
  startHostWebhook,
  webhookDenial as denied,
  type HostWebhook,
} from './world/host-webhook.ts';
import { pushImage, pushIndex, type PushedImage } from './world/images.ts';
import { startWorld, type World } from './world/world.ts';

const ns = 'apps';
const identityOf = (sa: string) => `https://kubernetes.io/namespaces/${ns}/serviceaccounts/${sa}`;

describe('policy rules (threshold, multiArch) against the apiserver', () => {
  let world: World;
  let webhook: HostWebhook;
  let failed = false;
  let host: string;
  const images: Record<string, PushedImage> = {};

  const apply = (pod: string) => world.kube.kubectl(['apply', '-f', '-'], { input: pod });
  const pod = (name: string, image: string) => podManifest(ns, name, image);
  const keyless = (name: string, identity: object) => keylessAuthority(world, name, identity);
  const policy = (name: string, images: string[], spec: object, observe = true) =>
    applyClusterPolicy(world, name, images, spec, observe);

  before(async () => {
    try {
      world = await startWorld();
      await installCrds(world);
      await world.kube.ensureNamespace(ns);
      for (const sa of ['release', 'intruder']) await world.kube.createServiceAccount(ns, sa);
      host = world.registries.referrers.host;
      const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
      images['threshold/both'] = await pushImage(tools, host, `${ns}/threshold/both`, 'v1');
      images['threshold/one'] = await pushImage(tools, host, `${ns}/threshold/one`, 'v1');
      images['multi/app'] = await pushIndex(tools, host, `${ns}/multi/app`, 'v1');
      images['every/attestations'] = await pushIndex(tools, host, `${ns}/every/attestations`, 'v1', [
        'unknown/unknown',
      ]);
      images['unsigned'] = await pushImage(tools, host, `${ns}/unsigned`, 'v1');
      await cosignSignAs(world, ns, 'release', images['threshold/both']!.byDigest);
      await cosignSignAs(world, ns, 'intruder', images['threshold/one']!.byDigest);
      // Only the indexes are signed, never their platform manifests.
      await cosignSignAs(world, ns, 'release', images['multi/app']!.byDigest);
      await cosignSignAs(world, ns, 'release', images['every/attestations']!.byDigest);
      // What the webhook's readiness probe is denied by (observed once the webhook runs).
      const probe = { authorities: [keyless('release-job', { subject: identityOf('release') })] };
      await policy('probe', [`${host}/${ns}/unsigned`], probe, false);
      webhook = await startHostWebhook(world, {
        namespace: ns,
        ownNamespace: 'sigward-system',
        probeImage: images['unsigned']!.ref,
      });
      await observedPolicy(world, 'probe');
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await webhook?.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'policy-rules' } : {});
    if (kept) console.error(`policy-rules e2e: logs kept in ${kept}`);
  });

  const step = stepsNotingFailure(() => (failed = true));

  step('threshold 2: one signature that both authorities accept is admitted', async () => {
    await policy('two-authorities', [`${host}/${ns}/threshold/**`], {
      authorities: [
        keyless('release-job', { subject: identityOf('release') }),
        keyless('any-job-of-apps', { subjectRegExp: `${identityOf('').replace(/\./g, '\\.')}.+` }),
      ],
      threshold: 2,
    });
    const image = images['threshold/both']!;
    const r = await apply(pod('both', image.ref));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'pod/both created');
  });

  step('threshold 2: a signature only one authority accepts is denied, 1 of 2', async () => {
    const image = images['threshold/one']!;
    const r = await apply(pod('one', image.ref));
    assert.notEqual(r.code, 0);
    const issuer = world.kube.issuer;
    assert.equal(
      r.stderr.trim(),
      `${denied(image.ref, image.digest)}policy two-authorities: ` +
        `1 of 2 required distinct authorities verified (passed: any-job-of-apps); release-job: ` +
        `expected subject "${identityOf('release')}" from issuer "${issuer}", found subject "${identityOf('intruder')}" from issuer "${issuer}" [THRESHOLD_NOT_MET]`,
    );
  });

  step('multiArch index: repo:tag@platform is admitted through the signed index its tag names', async () => {
    await policy('by-index', [`${host}/${ns}/multi/**`], {
      authorities: [keyless('release-job', { subject: identityOf('release') })],
      multiArch: 'index',
    });
    const index = images['multi/app']!;
    const platform = index.platforms![1]!.digest;
    const r = await apply(pod('by-index', `${index.ref}@${platform}`));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'pod/by-index created');
  });

  step('multiArch index: the same digest without its tag is denied, and says there is no index', async () => {
    const index = images['multi/app']!;
    const digest = index.platforms![0]!.digest;
    const image = `${host}/${index.repository}@${digest}`;
    const r = await apply(pod('untagged', image));
    assert.notEqual(r.code, 0);
    assert.ok(
      r.stderr.startsWith(`${denied(image, digest)}policy by-index, authority release-job: `),
      r.stderr,
    );
    assert.match(
      r.stderr.trim(),
      /; multiArch index: \S+ names no tag, so there is no index to find whose signature could count \(name it as repository:tag@digest\); expected a signature by subject "[^"]+" from issuer "[^"]+" \[SIGNATURE_MISSING\]$/,
    );
  });

  step('multiArch all-platforms: a signed index with only unknown/unknown entries is refused', async () => {
    await policy('every-platform', [`${host}/${ns}/every/**`], {
      authorities: [keyless('release-job', { subject: identityOf('release') })],
      multiArch: 'all-platforms',
    });
    const index = images['every/attestations']!;
    const r = await apply(pod('attestations-only', index.byDigest));
    assert.notEqual(r.code, 0);
    assert.equal(
      r.stderr.trim(),
      `${denied(index.byDigest, index.digest)}policy every-platform, authority release-job: ` +
        `the index lists only 1 manifest(s) of platform unknown/unknown (attestations): no runnable platform whose signature could be checked [INDEX_WITHOUT_PLATFORMS]`,
    );
  });
});
