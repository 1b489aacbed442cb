// Warm attestation reviews (every outcome cached) through the engine of one or more source trees,
// alternated round by round in one process: CPU per `engine.handle` of a review whose policy requires
// a SLSA provenance (attestation only, and beside a signing authority). A tree whose cache-hit path
// skips attestation policies answers them through the slow path (deadline, keychain, promises).
//
//   node bench/attestation-hit.ts --root . --root ../wt-perf-baseline3 [--reviews 20000] [--rounds 5]
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { RegistryClient } from '../src/oci/client.ts';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { pushTestImage } from '../test/support/images.ts';
import { pushLegacySignature, testSigner } from '../test/sigstore/discover-fixtures.ts';
import {
  MAIN_REF_CONDITION,
  attestationSigner,
  pushProvenanceReferrer,
} from '../test/sigstore/attestation-fixtures.ts';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string', multiple: true },
    reviews: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
  },
});
const roots = (values.root ?? ['.']).map((r) => resolve(r));
const reviews = Number(values.reviews);
const rounds = Number(values.rounds);

const registry = await startDockerRegistry();
const client = new RegistryClient();
const builder = attestationSigner();
const signer = testSigner();
const repo = { registry: registry.host, repository: 'bench/hit' };
const { digest } = await pushTestImage(client, repo, { tag: 'v1' });
await pushLegacySignature(client, repo, digest, [signer.layerFor(digest, `${registry.host}/bench/hit`)]);
await pushProvenanceReferrer(client, repo, digest, builder, 'refs/heads/main');
const image = `${registry.host}/bench/hit@${digest}`;

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
const policies = { 'attestation only': [attesting], 'signing + attesting': [signing, attesting] };

/* eslint-disable @typescript-eslint/no-explicit-any -- modules of another checkout, typed by use */
const harnesses = await Promise.all(
  roots.map((root) => import(join(root, 'test/engine/harness.ts')) as Promise<any>),
);
const cpu = new Map<string, number[]>();
for (let round = 0; round < rounds; round++)
  for (const [t, harness] of harnesses.entries())
    for (const [name, authorities] of Object.entries(policies)) {
      const resource = harness.clusterPolicy('bench', ['127.0.0.1:*/bench/**'], authorities, {
        threshold: authorities.length,
      });
      const e = harness.engineUnderTest([resource], { deadlineMs: 60_000 });
      const body = harness.podReview([image]);
      const first = harness.responseOf(await e.review(body));
      if (!first.allowed) throw new Error(first.status?.message);
      for (let i = 0; i < 1000; i++) await e.engine.handle(body, 'validate'); // warm-up
      const started = process.cpuUsage();
      for (let i = 0; i < reviews; i++) await e.engine.handle(body, 'validate');
      const used = process.cpuUsage(started);
      const key = `${roots[t]}|${name}`;
      cpu.set(key, [...(cpu.get(key) ?? []), (used.user + used.system) / reviews]);
      await e.close();
    }
for (const name of Object.keys(policies)) {
  console.log(`${name}: engine.handle of a cached review, CPU per review (median of ${rounds} rounds)`);
  for (const root of roots) console.log(`  ${root}: ${median(cpu.get(`${root}|${name}`)!).toFixed(1)} µs`);
}
await client.close();
await registry.stop();
