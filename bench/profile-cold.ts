// Profiling aid for the cold path (#14): verifyImage of a new digest, as bench/measure.ts's verify mode
// runs it, many times per case against the bench registries, so `node --cpu-prof` profiles only that.
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-cold.ts [RUNS] [CASE-SUBSTRING]
// The registries are served by a child process (their log pipes would otherwise be profiled too).
// `--bundle` measures the cosign v3 bundle's verification alone (parse + verifyBundle, no registry) in
// this tree and in each other tree named, rounds alternated, and lists the signature checks one
// verification makes (what is signed, by which key, warm trust root):
//   node bench/profile-cold.ts --bundle [RUNS] [OTHER-TREE...]
import { fork } from 'node:child_process';
import type * as NodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { RegistryClient } from '../src/oci/client.ts';
import type * as BundleModule from '../src/sigstore/bundle.ts';
import type * as VerifyModule from '../src/sigstore/verify.ts';
import { verifyImage } from '../src/sigstore/verify-image.ts';
import { identityCheck } from '../src/cli/identity-flags.ts';
import { compileIdentity } from '../src/policy/identity.ts';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { OLAREG_BIN, startOlareg } from '../test/support/olareg.ts';
import { prodRoot } from '../test/sigstore/ext.ts';
import type * as ExtModule from '../test/sigstore/ext.ts';
import {
  fulcioRekor,
  kubewarden,
  pushBundleReferrer,
  pushLegacySignature,
} from '../test/sigstore/discover-fixtures.ts';

interface Hosts {
  readonly docker: string;
  readonly olareg?: string;
}

if (process.argv[2] === '--serve') await serve();
else if (process.argv[2] === '--bundle')
  await profileBundle(Number(process.argv[3] ?? '1000'), process.argv.slice(4));
else await profile(Number(process.argv[2] ?? '300'), process.argv[3]);

/** Child: starts the registries with the bench's signatures, tells the parent where, stops on disconnect. */
async function serve(): Promise<void> {
  const registry = await startDockerRegistry();
  const olareg = existsSync(OLAREG_BIN) ? await startOlareg({ referrersApi: true }) : undefined;
  const setup = new RegistryClient();
  await pushBundleReferrer(
    setup,
    { registry: registry.host, repository: 'bench/bundle' },
    kubewarden.digest,
    kubewarden.bundle(),
  );
  await pushLegacySignature(
    setup,
    { registry: registry.host, repository: 'bench/legacy' },
    fulcioRekor.digest,
    [fulcioRekor.layer()],
  );
  if (olareg !== undefined)
    await pushBundleReferrer(
      setup,
      { registry: olareg.host, repository: 'bench/bundle' },
      kubewarden.digest,
      kubewarden.bundle(),
      { fallbackTag: false },
    );
  await setup.close();
  const hosts: Hosts = { docker: registry.host, ...(olareg === undefined ? {} : { olareg: olareg.host }) };
  process.send!(hosts);
  await once(process, 'disconnect');
  await registry.stop();
  await olareg?.stop();
}

async function profile(runs: number, only: string | undefined): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: [] });
  const [hosts] = (await once(child, 'message')) as [Hosts];
  try {
    const trust = prodRoot().material;
    const keyless = (subject: string, issuer: string) => ({
      kind: 'keyless' as const,
      name: 'keyless',
      match: identityCheck(compileIdentity({ subject, issuer })),
    });
    const cases = [
      ...(hosts.olareg === undefined
        ? []
        : [{ name: 'referrers', registry: hosts.olareg, repository: 'bench/bundle', ...kubewarden }]),
      { name: 'fallback', registry: hosts.docker, repository: 'bench/bundle', ...kubewarden },
      { name: 'legacy', registry: hosts.docker, repository: 'bench/legacy', ...fulcioRekor },
    ].filter((c) => only === undefined || c.name.includes(only));
    for (const c of cases) {
      let requests = 0;
      const client = new RegistryClient({ onExchange: () => void requests++ });
      const image = { repository: { registry: c.registry, repository: c.repository }, digest: c.digest };
      const authority = keyless(c.subject, c.issuer);
      const verifyOnce = async (): Promise<number> => {
        const t = performance.now();
        const verdict = await verifyImage({ client, image, authorities: [authority], trust });
        if (verdict.status !== 'verified') throw new Error(`${c.name}: ${verdict.code} ${verdict.message}`);
        return performance.now() - t;
      };
      for (let i = 0; i < 5; i++) await verifyOnce();
      requests = 0;
      const walls: number[] = [];
      const cpu = process.cpuUsage();
      for (let i = 0; i < runs; i++) walls.push(await verifyOnce());
      const used = process.cpuUsage(cpu);
      walls.sort((a, b) => a - b);
      const cpuMs = (used.user + used.system) / 1000 / runs;
      console.log(
        `${c.name}: p50 ${walls[Math.floor(runs / 2)]!.toFixed(2)} ms, CPU ${cpuMs.toFixed(2)} ms, requests ${(requests / runs).toFixed(1)}`,
      );
      await client.close();
    }
  } finally {
    child.disconnect();
    await once(child, 'exit');
  }
}

interface SignatureCheck {
  readonly hash: string;
  readonly key: string;
  readonly bytes: number;
}

/** Every node:crypto `verify` made while `run` runs (the library calls it through `require('crypto')`). */
function signatureChecks(run: () => void): SignatureCheck[] {
  const nodeCrypto = createRequire(import.meta.url)('node:crypto') as typeof NodeCrypto;
  const original = nodeCrypto.verify;
  const checks: SignatureCheck[] = [];
  const watched = (...args: Parameters<typeof original>): boolean => {
    const [hash, data, key] = args as unknown as [string | null, Uint8Array, NodeCrypto.KeyObject];
    const details = key.asymmetricKeyDetails;
    checks.push({
      hash: hash ?? '(key default)',
      key: `${key.asymmetricKeyType}/${details?.namedCurve ?? details?.modulusLength}`,
      bytes: data.length,
    });
    return (original as (...a: unknown[]) => boolean)(...args);
  };
  nodeCrypto.verify = watched as typeof original;
  try {
    run();
  } finally {
    nodeCrypto.verify = original;
  }
  return checks;
}

/** parse + verifyBundle of the cosign v3 bundle, per tree: CPU per verification, medians of 5 rounds. */
async function profileBundle(runs: number, others: string[]): Promise<void> {
  const trees = [resolve(fileURLToPath(new URL('..', import.meta.url))), ...others.map((t) => resolve(t))];
  const verifiers = await Promise.all(
    trees.map(async (tree) => {
      const { parseBundle } = (await import(`${tree}/src/sigstore/bundle.ts`)) as typeof BundleModule;
      const { verifyBundle } = (await import(`${tree}/src/sigstore/verify.ts`)) as typeof VerifyModule;
      const { prodRoot } = (await import(`${tree}/test/sigstore/ext.ts`)) as typeof ExtModule;
      const trust = prodRoot().material;
      const raw = kubewarden.bundle();
      return () => {
        verifyBundle({
          bundle: parseBundle(raw),
          trust,
          signer: { kind: 'keyless' },
          content: { kind: 'image', digest: kubewarden.digest },
        });
      };
    }),
  );
  for (const verify of verifiers) for (let i = 0; i < 200; i++) verify();
  const cpu: number[][] = trees.map(() => []);
  for (let round = 0; round < 5; round++)
    verifiers.forEach((verify, t) => {
      const start = process.cpuUsage();
      for (let i = 0; i < runs; i++) verify();
      const used = process.cpuUsage(start);
      cpu[t]!.push((used.user + used.system) / 1000 / runs);
    });
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  trees.forEach((tree, t) => {
    const checks = signatureChecks(verifiers[t]!);
    const ratio = t === 0 ? '' : `, this tree ÷ it ${(median(cpu[0]!) / median(cpu[t]!)).toFixed(2)}×`;
    console.log(
      `${tree}: verifyBundle CPU ${median(cpu[t]!).toFixed(3)} ms (rounds ${cpu[t]!.map((c) => c.toFixed(3)).join(' ')})${ratio}`,
    );
    for (const c of checks) console.log(`  signature check: ${c.key} ${c.hash} over ${c.bytes} bytes`);
  });
}
