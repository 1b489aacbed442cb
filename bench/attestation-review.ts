// Cold attestation reviews through the engine of one or more source trees, alternated round by round
// in one process (each tree's own engine, src and harness; registry and fixtures shared): wall time per
// review (median) and registry requests per review (counted by a recording proxy), for an image that
// carries what a real one accumulates (a legacy .sig, a cosign-sign bundle referrer, the wanted SLSA
// provenance and an unwanted SPDX SBOM), per storage (referrers fallback tag, legacy .att) and policy
// (signing only; attestation only; a signing and an attesting authority together). Loopback docker-registry, so the
// wall times show round trips on loopback; a remote registry multiplies the gap.
//
//   node bench/attestation-review.ts --root . --root ../wt-perf-baseline3 [--images 20] [--rounds 5]
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { RegistryClient } from '../src/oci/client.ts';
import type { RepositoryName } from '../src/oci/reference.ts';
import { COSIGN_SIGN_PREDICATE_TYPE } from '../src/sigstore/layout.ts';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { startFaultProxy } from '../test/support/fault-proxy.ts';
import { pushTestImage } from '../test/support/images.ts';
import { pushLegacySignature, testSigner } from '../test/sigstore/discover-fixtures.ts';
import {
  MAIN_REF_CONDITION,
  SLSA_V1,
  attestationSigner,
  envelopeLayer,
  provenanceStatement,
  pushAttestationReferrer,
  pushLegacyAttestations,
  statement,
} from '../test/sigstore/attestation-fixtures.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string', multiple: true },
    images: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '5' },
  },
});
const roots = (values.root ?? ['.']).map((r) => resolve(r));
const imagesPerCase = Number(values.images);
const rounds = Number(values.rounds);
const SPDX = 'https://spdx.dev/Document';

const registry = await startDockerRegistry();
const proxy = await startFaultProxy({ upstream: registry.url });
const client = new RegistryClient();
const builder = attestationSigner();
const signer = testSigner();
let counter = 0;

async function image(storage: 'fallback tag' | 'legacy .att'): Promise<string> {
  const repo: RepositoryName = { registry: registry.host, repository: `bench/att${++counter}` };
  const { digest } = await pushTestImage(client, repo, { tag: 'v1' });
  await pushLegacySignature(client, repo, digest, [
    signer.layerFor(digest, `${registry.host}/${repo.repository}`),
  ]);
  const sign = builder.bundle(statement(digest, COSIGN_SIGN_PREDICATE_TYPE, {}));
  await pushAttestationReferrer(client, repo, digest, sign, COSIGN_SIGN_PREDICATE_TYPE);
  const provenance = provenanceStatement(digest, 'refs/heads/main');
  const sbom = statement(digest, SPDX, { spdxVersion: 'SPDX-2.3' });
  if (storage === 'fallback tag') {
    await pushAttestationReferrer(client, repo, digest, builder.bundle(provenance), SLSA_V1);
    await pushAttestationReferrer(client, repo, digest, builder.bundle(sbom), SPDX);
  } else {
    await pushLegacyAttestations(client, repo, digest, [
      envelopeLayer(builder, provenance),
      envelopeLayer(builder, sbom, SPDX),
    ]);
  }
  return `${proxy.host}/${repo.repository}@${digest}`;
}

const attesting = {
  name: 'release-builder',
  key: { data: builder.pem },
  insecureIgnoreTlog: true,
  attestations: [{ name: 'provenance', predicateType: 'slsaprovenance1', conditions: [MAIN_REF_CONDITION] }],
};
const signing = {
  name: 'release-key',
  key: { data: signer.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
  insecureIgnoreTlog: true,
};
const policies = {
  'signing only': [signing],
  'attestation only': [attesting],
  'signing + attesting': [signing, attesting],
};

const cases: { storage: 'fallback tag' | 'legacy .att'; policy: keyof typeof policies; images: string[] }[] =
  [];
for (const storage of ['fallback tag', 'legacy .att'] as const)
  for (const policy of Object.keys(policies) as (keyof typeof policies)[]) {
    const images: string[] = [];
    for (let i = 0; i < imagesPerCase; i++) images.push(await image(storage));
    cases.push({ storage, policy, images });
  }

/* eslint-disable @typescript-eslint/no-explicit-any -- modules of another checkout, typed by use */
const harnesses = await Promise.all(
  roots.map((root) => import(join(root, 'test/engine/harness.ts')) as Promise<any>),
);
const results = new Map<string, { wall: number[]; requests: number[] }>();
for (let round = 0; round < rounds; round++) {
  for (const [t, harness] of harnesses.entries()) {
    for (const c of cases) {
      const resource = harness.clusterPolicy('bench', ['127.0.0.1:*/bench/**'], policies[c.policy], {
        threshold: policies[c.policy].length,
      });
      // A fresh engine per round: every review below is cold (its image never seen by this engine).
      const e = harness.engineUnderTest([resource], { deadlineMs: 60_000 });
      const key = `${roots[t]}|${c.storage}|${c.policy}`;
      const into = results.get(key) ?? { wall: [], requests: [] };
      results.set(key, into);
      for (const ref of c.images) {
        proxy.clearRequests();
        const started = performance.now();
        const answer = harness.responseOf(await e.review(harness.podReview([ref])));
        const wall = performance.now() - started;
        if (!answer.allowed) throw new Error(`${key}: ${answer.status?.message}`);
        into.wall.push(wall);
        into.requests.push(proxy.requests.length);
      }
      await e.close();
    }
  }
}
for (const c of cases) {
  console.log(`${c.storage}, ${c.policy}:`);
  for (const root of roots) {
    const r = results.get(`${root}|${c.storage}|${c.policy}`)!;
    console.log(
      `  ${root}: requests median ${median(r.requests)} (the first review of an engine also asks the referrers API once), wall p50 ${median(r.wall).toFixed(1)} ms over ${r.wall.length}`,
    );
  }
}
await client.close();
await proxy.close();
await registry.stop();
