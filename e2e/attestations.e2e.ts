// Attestation policies through the REAL apiserver and the host webhook: a SLSA v1 provenance attested
// in the local world (Fulcio with apiserver service-account tokens, Rekor v2, TSA) and required by a
// ClusterImagePolicy whose CEL condition says "built from main":
// - `cosign attest` (cosign v3: a Sigstore bundle referrer, found through olareg's referrers API) and
//   `sigward attest` (the same format, in docker-registry: found through the referrers fallback tag);
// - cosign v3 `attest --new-bundle-format=false` with a key and no log: the legacy sha256-<hex>.att tag;
// each admitted when the condition holds, denied naming the attestation, the condition and the ref it
// saw when it does not, and denied when the attestation is signed by another identity.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { runTool, writeSecretFile, type ToolResult } from './world/clients.ts';
import { stepsNotingFailure } from './world/failing-steps.ts';
import { podManifest } from './world/chart.ts';
import {
  applyClusterPolicy,
  installCrds,
  keylessAuthority,
  observedPolicy,
  startHostWebhook,
  webhookDenial as denied,
  type HostWebhook,
} from './world/host-webhook.ts';
import { pushImage, type PushedImage } from './world/images.ts';
import { getManifest, referrers, tags } from './world/oci-http.ts';
import { startWorld, type World } from './world/world.ts';
import { MAIN_REF_CONDITION as MAIN, slsaProvenance } from '../test/sigstore/attestation-fixtures.ts';

const ns = 'apps';
const repoRoot = path.resolve(import.meta.dirname, '..');
const identityOf = (sa: string) => `https://kubernetes.io/namespaces/${ns}/serviceaccounts/${sa}`;
const keyPassword = 'attestations-e2e';

describe('attestation policies (SLSA v1 provenance, CEL) against the apiserver', () => {
  let world: World;
  let webhook: HostWebhook;
  let failed = false;
  let referrersHost: string;
  let fallbackHost: string;
  let keyDir: string;
  const images: Record<string, PushedImage> = {};
  const predicates: Record<'main' | 'dev', string> = { main: '', dev: '' };

  const apply = (pod: string) => world.kube.kubectl(['apply', '-f', '-'], { input: pod });
  const pod = (name: string, image: string) => podManifest(ns, name, image);
  const policy = (name: string, images: string[], spec: object, observe = true) =>
    applyClusterPolicy(world, name, images, spec, observe);
  async function tokenFor(sa: string, label: string): Promise<string> {
    const token = await world.kube.createToken(ns, sa, { audience: 'sigstore' });
    return writeSecretFile(world.runDir.sub('tokens'), `${sa}-${label}`, token);
  }
  const services = () => [
    `--signing-config=${world.sigstore.signingConfigPath}`,
    `--trusted-root=${world.sigstore.trustedRootPath}`,
  ];
  async function cosignAttest(sa: string, image: PushedImage, predicate: string): Promise<void> {
    await world.clients.cosign([
      'attest',
      '--yes',
      `--identity-token=${await tokenFor(sa, image.digest.slice(7, 19))}`,
      ...services(),
      `--predicate=${predicate}`,
      '--type=slsaprovenance1',
      image.byDigest,
    ]);
  }
  async function sigwardAttest(sa: string, image: PushedImage, predicate: string): Promise<ToolResult> {
    return runTool(
      process.execPath,
      [
        'src/cli/main.ts',
        'attest',
        '--oidc-provider=kubernetes',
        `--kubernetes-token-path=${await tokenFor(sa, `sigward-${image.digest.slice(7, 19)}`)}`,
        ...services(),
        `--predicate=${predicate}`,
        '--type=slsaprovenance1',
        image.ref,
      ],
      world.clients.env,
      { cwd: repoRoot, check: false, timeoutMs: 120_000 },
    );
  }

  before(async () => {
    try {
      world = await startWorld();
      await installCrds(world);
      await world.kube.ensureNamespace(ns);
      for (const sa of ['release', 'intruder']) await world.kube.createServiceAccount(ns, sa);
      referrersHost = world.registries.referrers.host;
      fallbackHost = world.registries.fallback.host;
      const tools = { crane: world.clients.crane, workDir: world.runDir.sub('images') };
      const dir = world.runDir.sub('predicates');
      for (const ref of ['main', 'dev'] as const) {
        predicates[ref] = path.join(dir, `${ref}.json`);
        writeFileSync(predicates[ref], JSON.stringify(slsaProvenance(`refs/heads/${ref}`)));
      }
      images['cosign/main'] = await pushImage(tools, referrersHost, `${ns}/att/cosign-main`, 'v1');
      images['cosign/dev'] = await pushImage(tools, referrersHost, `${ns}/att/cosign-dev`, 'v1');
      images['cosign/intruder'] = await pushImage(tools, referrersHost, `${ns}/att/cosign-intruder`, 'v1');
      images['sigward/main'] = await pushImage(tools, fallbackHost, `${ns}/att/sigward-main`, 'v1');
      images['sigward/dev'] = await pushImage(tools, fallbackHost, `${ns}/att/sigward-dev`, 'v1');
      images['legacy/main'] = await pushImage(tools, referrersHost, `${ns}/legacy/main`, 'v1');
      images['legacy/dev'] = await pushImage(tools, referrersHost, `${ns}/legacy/dev`, 'v1');
      images['unsigned'] = await pushImage(tools, referrersHost, `${ns}/unsigned`, 'v1');
      await cosignAttest('release', images['cosign/main']!, predicates.main);
      await cosignAttest('release', images['cosign/dev']!, predicates.dev);
      await cosignAttest('intruder', images['cosign/intruder']!, predicates.main);
      for (const [key, ref] of [
        ['sigward/main', 'main'],
        ['sigward/dev', 'dev'],
      ] as const) {
        const r = await sigwardAttest('release', images[key]!, predicates[ref]);
        assert.equal(r.code, 0, `sigward attest: ${r.stdout}${r.stderr}`);
      }
      // cosign v3's legacy layout: a key, no log (the authority says insecureIgnoreTlog).
      keyDir = world.runDir.sub('cosign-key');
      await world.clients.cosign(['generate-key-pair'], {
        cwd: keyDir,
        env: { COSIGN_PASSWORD: keyPassword },
      });
      for (const [key, ref] of [
        ['legacy/main', 'main'],
        ['legacy/dev', 'dev'],
      ] as const) {
        await world.clients.cosign(
          [
            'attest',
            '--yes',
            `--key=${path.join(keyDir, 'cosign.key')}`,
            '--new-bundle-format=false',
            '--use-signing-config=false',
            '--tlog-upload=false',
            `--predicate=${predicates[ref]}`,
            '--type=slsaprovenance1',
            images[key]!.byDigest,
          ],
          { env: { COSIGN_PASSWORD: keyPassword } },
        );
      }
      const probe = { authorities: [keylessAuthority(world, 'release', { subject: identityOf('release') })] };
      await policy('probe', [`${referrersHost}/${ns}/unsigned`], probe, false);
      webhook = await startHostWebhook(world, {
        namespace: ns,
        ownNamespace: 'sigward-system',
        probeImage: images['unsigned']!.ref,
      });
      await observedPolicy(world, 'probe');
      await policy(
        'provenance-from-main',
        [`${referrersHost}/${ns}/att/**`, `${fallbackHost}/${ns}/att/**`],
        {
          authorities: [
            {
              ...keylessAuthority(world, 'release-workflow', { subject: identityOf('release') }),
              attestations: [{ name: 'provenance', predicateType: 'slsaprovenance1', conditions: [MAIN] }],
            },
          ],
        },
      );
      await policy('legacy-provenance', [`${referrersHost}/${ns}/legacy/**`], {
        authorities: [
          {
            name: 'release-key',
            key: { data: readFileSync(path.join(keyDir, 'cosign.pub'), 'utf8') },
            insecureIgnoreTlog: true,
            attestations: [
              { name: 'provenance', predicateType: 'https://slsa.dev/provenance/v1', conditions: [MAIN] },
            ],
          },
        ],
      });
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    await webhook?.stop();
    const kept = await world?.stop(failed ? { keepLogsAs: 'attestations' } : {});
    if (kept) console.error(`attestations e2e: logs kept in ${kept}`);
  });

  const step = stepsNotingFailure(() => (failed = true));
  const admitted = async (name: string, image: PushedImage) => {
    const r = await apply(pod(name, image.ref));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `pod/${name} created`);
  };
  const conditionDenial = (image: PushedImage, policyName: string, authority: string) =>
    `${denied(image.ref, image.digest)}policy ${policyName}, authority ${authority}: ` +
    `attestation provenance (https://slsa.dev/provenance/v1): condition[0] \`${MAIN}\` is false; ` +
    `it saw predicate.buildDefinition.externalParameters.workflow.ref = "refs/heads/dev" [ATTESTATION_CONDITION_FAILED]`;

  step('cosign attest (bundle referrer, referrers API): built from main is admitted', async () => {
    const image = images['cosign/main']!;
    const listed = await referrers(world.registries.referrers.url, image.repository, image.digest);
    assert.equal(
      listed.index?.manifests?.[0]?.annotations?.['dev.sigstore.bundle.predicateType'],
      'https://slsa.dev/provenance/v1',
    );
    await admitted('cosign-main', images['cosign/main']!);
  });

  step('cosign attest: built from dev is denied, naming the condition and the ref it saw', async () => {
    const r = await apply(pod('cosign-dev', images['cosign/dev']!.ref));
    assert.notEqual(r.code, 0);
    assert.equal(
      r.stderr.trim(),
      conditionDenial(images['cosign/dev']!, 'provenance-from-main', 'release-workflow'),
    );
  });

  step('cosign attest by another identity is denied, saying who signed it', async () => {
    const image = images['cosign/intruder']!;
    const r = await apply(pod('cosign-intruder', image.ref));
    assert.notEqual(r.code, 0);
    const issuer = world.kube.issuer;
    assert.equal(
      r.stderr.trim(),
      `${denied(image.ref, image.digest)}policy provenance-from-main, authority release-workflow: ` +
        `expected attestation provenance signed by subject "${identityOf('release')}" from issuer "${issuer}", ` +
        `found subject "${identityOf('intruder')}" from issuer "${issuer}" [IDENTITY_MISMATCH]`,
    );
  });

  step(
    'sigward attest (bundle referrer, fallback tag in docker-registry): main admitted, dev denied',
    async () => {
      await admitted('sigward-main', images['sigward/main']!);
      const r = await apply(pod('sigward-dev', images['sigward/dev']!.ref));
      assert.notEqual(r.code, 0);
      assert.equal(
        r.stderr.trim(),
        conditionDenial(images['sigward/dev']!, 'provenance-from-main', 'release-workflow'),
      );
    },
  );

  step('an image with no attestation is denied: none found, and where it looked', async () => {
    const plain = await pushImage(
      { crane: world.clients.crane, workDir: world.runDir.sub('images') },
      referrersHost,
      `${ns}/att/plain`,
      'v1',
    );
    const r = await apply(pod('plain', plain.ref));
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr.trim(),
      /authority release-workflow: attestation provenance \(https:\/\/slsa\.dev\/provenance\/v1\): none found \(looked in the referrers API and the legacy \.att tag, in 127\.0\.0\.1:\d+\/apps\/att\/plain\); expected an attestation provenance signed by subject .+ \[ATTESTATION_MISSING\]$/,
    );
  });

  step(
    'cosign attest --new-bundle-format=false (legacy .att tag, key): main admitted, dev denied',
    async () => {
      // What cosign wrote: the legacy tag, and no bundle referrer (so the .att path is what admits).
      const legacy = images['legacy/main']!;
      const hex = legacy.digest.slice('sha256:'.length);
      const url = world.registries.referrers.url;
      assert.deepEqual(await tags(url, legacy.repository), [`sha256-${hex}.att`, 'v1']);
      assert.deepEqual((await referrers(url, legacy.repository, legacy.digest)).index?.manifests ?? [], []);
      // Each layer claims its type in a `predicateType` annotation: sigward downloads only wanted ones.
      const att = await getManifest(url, legacy.repository, `sha256-${hex}.att`);
      assert.deepEqual(
        att?.json.layers?.map((l) => l.annotations?.['predicateType']),
        ['https://slsa.dev/provenance/v1'],
      );
      await admitted('legacy-main', images['legacy/main']!);
      const r = await apply(pod('legacy-dev', images['legacy/dev']!.ref));
      assert.notEqual(r.code, 0);
      assert.equal(
        r.stderr.trim(),
        conditionDenial(images['legacy/dev']!, 'legacy-provenance', 'release-key'),
      );
    },
  );

  step(
    'sigward verify on attested, unsigned images: no signatures, the attestation skipped by its claim',
    async () => {
      // Real cosign v3 (olareg lifts the claim into the referrers entry) and sigward attest (docker-
      // registry: the fallback tag, the claim on the manifest): looking for signatures downloads neither.
      for (const image of [images['cosign/main']!, images['sigward/main']!]) {
        const r = await runTool(
          process.execPath,
          [
            'src/cli/main.ts',
            'verify',
            `--trusted-root=${world.sigstore.trustedRootPath}`,
            `--certificate-identity=${identityOf('release')}`,
            `--certificate-oidc-issuer=${world.kube.issuer}`,
            '--insecure-ignore-sct',
            image.byDigest,
          ],
          world.clients.env,
          { cwd: repoRoot, check: false, timeoutMs: 60_000 },
        );
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(
          r.stderr,
          /no signatures found \(.*\); 1 attestation\(s\) of other predicate types are not image signatures \(1 claimed by their referrer's dev\.sigstore\.bundle\.predicateType annotation, not downloaded\)/,
        );
      }
    },
  );

  step('sigward verify-attestation agrees with the webhook', async () => {
    const verify = (image: PushedImage) =>
      runTool(
        process.execPath,
        [
          'src/cli/main.ts',
          'verify-attestation',
          `--trusted-root=${world.sigstore.trustedRootPath}`,
          `--certificate-identity=${identityOf('release')}`,
          `--certificate-oidc-issuer=${world.kube.issuer}`,
          '--insecure-ignore-sct',
          '--type=slsaprovenance1',
          `--condition=${MAIN}`,
          image.byDigest,
        ],
        world.clients.env,
        { cwd: repoRoot, check: false, timeoutMs: 60_000 },
      );
    const ok = await verify(images['cosign/main']!);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /1 condition\(s\) hold; signed by subject/);
    const dev = await verify(images['sigward/dev']!);
    assert.equal(dev.code, 1);
    assert.match(dev.stderr, /refs\/heads\/dev" \[ATTESTATION_CONDITION_FAILED\]/);
  });
});
