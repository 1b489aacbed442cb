// `npm run bench`: how long `verify` takes per image against a loopback registry, and how much CPU one
// verification costs. Debian's docker-registry on 127.0.0.1 holds real public-good signatures placed as
// cosign places them (the cosign v3 bundle of sigstore-rs under the fallback tag; containers/image's
// keyless legacy .sig; connaisseur's three key-only layers). Baseline, measured in the same run: a bare
// manifest GET by digest. With olareg built (npm run e2e:tools), one more row reads the bundle through
// a real referrers API. Cold = a new client (new connections) per verification; warm = one client.
// The trusted root is loaded once, outside the timings (the webhook holds it in memory).
//
//   npm run bench                # 15 cold and 60 warm runs per row
//   npm run bench -- --runs=200  # more warm runs (cold runs are a quarter of that)
import { parseArgs } from 'node:util';
import { RegistryClient } from '../src/oci/client.ts';
import { referenceIn, type RepositoryName } from '../src/oci/reference.ts';
import { discoverSignatures } from '../src/sigstore/discover.ts';
import { verifyBundle } from '../src/sigstore/verify.ts';
import { verifyImage, type Authority } from '../src/sigstore/verify-image.ts';
import { identityCheck } from '../src/cli/identity-flags.ts';
import { compileIdentity } from '../src/policy/identity.ts';
import { existsSync } from 'node:fs';
import { startDockerRegistry } from '../test/support/docker-registry.ts';
import { OLAREG_BIN, startOlareg, type Olareg } from '../test/support/olareg.ts';
import { pushTestImage } from '../test/support/images.ts';
import {
  fulcioRekor,
  kubewarden,
  multiCosigned,
  pushBundleReferrer,
  pushLegacySignature,
} from '../test/sigstore/discover-fixtures.ts';
import { prodRoot, publicKey } from '../test/sigstore/ext.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '60' } } });
const warmRuns = Math.max(5, Number(values.runs));
const coldRuns = Math.max(3, Math.round(warmRuns / 4));

interface Row {
  name: string;
  coldMs: number;
  warmMs: number;
  cpuMs: number;
  cryptoCpuMs: number | undefined;
  requests: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;

/** Wall time of each run, and this process's CPU time of each (user + system). */
async function measure(runs: number, once: () => Promise<void>): Promise<{ wall: number; cpu: number }> {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const cpu = process.cpuUsage();
    const t = performance.now();
    await once();
    walls.push(performance.now() - t);
    cpus.push(cpuMs(process.cpuUsage(cpu)));
  }
  return { wall: median(walls), cpu: median(cpus) };
}

const registry = await startDockerRegistry();
// olareg (built by `npm run e2e:tools`) adds a row with a real referrers API, when it is there.
const olareg: Olareg | undefined = existsSync(OLAREG_BIN)
  ? await startOlareg({ referrersApi: true })
  : undefined;
const setup = new RegistryClient();
try {
  const trust = prodRoot().material;
  const repo = (name: string): RepositoryName => ({ registry: registry.host, repository: `bench/${name}` });
  const keyless = (subject: string, issuer: string): Authority => ({
    kind: 'keyless',
    name: 'keyless',
    match: identityCheck(compileIdentity({ subject, issuer })),
  });

  const plain = await pushTestImage(setup, repo('plain'), { tag: 'v1' });
  await pushBundleReferrer(setup, repo('bundle'), kubewarden.digest, kubewarden.bundle());
  await pushLegacySignature(setup, repo('legacy'), fulcioRekor.digest, [fulcioRekor.layer()]);
  await pushLegacySignature(setup, repo('keys'), multiCosigned.digest, multiCosigned.layers());

  const apiRepo = olareg === undefined ? undefined : { registry: olareg.host, repository: 'bench/bundle' };
  if (apiRepo !== undefined) {
    await pushBundleReferrer(setup, apiRepo, kubewarden.digest, kubewarden.bundle(), { fallbackTag: false });
  }
  const cases = [
    ...(apiRepo === undefined
      ? []
      : [
          {
            name: 'bundle referrer, referrers API (olareg)',
            image: { repository: apiRepo, digest: kubewarden.digest },
            authorities: [keyless(kubewarden.subject, kubewarden.issuer)],
          },
        ]),
    {
      name: 'bundle referrer, fallback tag (cosign v3)',
      image: { repository: repo('bundle'), digest: kubewarden.digest },
      authorities: [keyless(kubewarden.subject, kubewarden.issuer)],
    },
    {
      name: 'legacy .sig, keyless + Rekor SET',
      image: { repository: repo('legacy'), digest: fulcioRekor.digest },
      authorities: [keyless(fulcioRekor.subject, fulcioRekor.issuer)],
    },
    {
      name: 'legacy .sig, 3 key-only layers',
      image: { repository: repo('keys'), digest: multiCosigned.digest },
      authorities: [
        {
          kind: 'key',
          name: 'charlie',
          publicKey: publicKey(multiCosigned.key('charlie')),
          requireTlog: false,
        } satisfies Authority,
      ],
    },
  ];

  const rows: Row[] = [];
  let requests = 0;
  const counting = { onExchange: () => void requests++ };

  // Baseline: one manifest GET by digest, the least any verification must do.
  {
    const ref = referenceIn(repo('plain'), plain.digest);
    const cold = await measure(coldRuns, async () => {
      const c = new RegistryClient();
      await c.getManifest(ref);
      await c.close();
    });
    const warmClient = new RegistryClient(counting);
    await warmClient.getManifest(ref);
    requests = 0;
    const warm = await measure(warmRuns, async () => {
      await warmClient.getManifest(ref);
    });
    rows.push({
      name: 'baseline: manifest GET',
      coldMs: cold.wall,
      warmMs: warm.wall,
      cpuMs: warm.cpu,
      cryptoCpuMs: undefined,
      requests: requests / warmRuns,
    });
    await warmClient.close();
  }

  for (const c of cases) {
    const cold = await measure(coldRuns, async () => {
      const client = new RegistryClient();
      const verdict = await verifyImage({ client, image: c.image, authorities: c.authorities, trust });
      await client.close();
      if (verdict.status !== 'verified') throw new Error(`${c.name}: ${verdict.code} ${verdict.message}`);
    });
    const warmClient = new RegistryClient(counting);
    await verifyImage({ client: warmClient, image: c.image, authorities: c.authorities, trust });
    requests = 0;
    const warm = await measure(warmRuns, async () => {
      await verifyImage({ client: warmClient, image: c.image, authorities: c.authorities, trust });
    });
    const perRun = requests / warmRuns;
    // The cryptographic part alone: every discovered candidate through verifyBundle, no I/O.
    const found = await discoverSignatures(warmClient, c.image);
    const authority = c.authorities[0]!;
    const crypto = await measure(warmRuns, async () => {
      for (const candidate of found.candidates) {
        try {
          verifyBundle({
            bundle: candidate.bundle!,
            trust,
            signer:
              authority.kind === 'key'
                ? { kind: 'key', publicKey: authority.publicKey, requireTlog: false }
                : { kind: 'keyless' },
            content: {
              kind: 'image',
              digest: c.image.digest,
              ...(candidate.payload === undefined ? {} : { payload: candidate.payload }),
            },
          });
        } catch {
          // the key-only case has two layers signed by others: they fail, as in the real verification
        }
      }
    });
    rows.push({
      name: c.name,
      coldMs: cold.wall,
      warmMs: warm.wall,
      cpuMs: warm.cpu,
      cryptoCpuMs: crypto.cpu,
      requests: perRun,
    });
    await warmClient.close();
  }

  const f = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(2));
  const header = ['case', 'cold ms', 'warm ms', 'CPU ms/verify', 'crypto CPU ms', 'HTTP req/verify'];
  const table = rows.map((r) => [
    r.name,
    f(r.coldMs),
    f(r.warmMs),
    f(r.cpuMs),
    f(r.cryptoCpuMs),
    r.requests.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log(
    `sigward verify bench: Debian docker-registry${olareg === undefined ? '' : ' and olareg'} on 127.0.0.1, Node ${process.version}, medians of ${coldRuns} cold / ${warmRuns} warm runs`,
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) console.log(line(row));
  console.log(
    'cold: new client and connections per verification; warm: one client (keep-alive). CPU: this process only\n(user+system, process.cpuUsage) per warm verification; crypto: verifyBundle alone over every candidate.',
  );
} finally {
  await setup.close();
  await registry.stop();
  await olareg?.stop();
}

// The webhook section (bench/webhook.ts): review throughput and latency against a bare fastify server.
await import('./webhook.ts');
