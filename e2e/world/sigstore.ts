// The Sigstore half of the world: Fulcio (trusting one OIDC issuer, usually the apiserver), Rekor v2,
// the TSA, the trust material describing exactly them, and a signed TUF repository serving it.
//
// Verifiers of what this world signs need `ctlogThreshold: 0` (cosign: `--insecure-ignore-sct`): there
// is no CT log in this tier. Rekor v2 entries carry no signed timestamp, so the TSA's is the one
// verifiers count (`timestampThreshold` 1).
import { readFileSync } from 'node:fs';
import { startFulcio, type Fulcio, type OidcIssuer } from './fulcio.ts';
import { startRekor, type Rekor } from './rekor.ts';
import type { RunDir } from './run-dir.ts';
import { writeTrustMaterial, type TrustInputs } from './trust.ts';
import { startTsa, type Tsa } from './tsa.ts';
import { startTufRepo, type TufRepo } from './tuf-repo.ts';

export interface SigstoreOptions {
  /** The OIDC issuer Fulcio accepts, byte for byte as in the tokens (the apiserver's SA issuer). */
  issuer: string;
  /** PEM CA of an https issuer (the apiserver's serving CA); Fulcio gets it as SSL_CERT_FILE. */
  issuerCaPem?: string;
  /** Fulcio issuer type of `issuer`: `kubernetes` (the default) gives SAN .../namespaces/<ns>/serviceaccounts/<sa>. */
  issuerType?: OidcIssuer['type'];
  /** More issuers Fulcio accepts besides `issuer`. */
  moreIssuers?: readonly OidcIssuer[];
}

export interface Sigstore {
  fulcioUrl: string;
  rekorUrl: string;
  /** The TSA's signing endpoint (…/api/v1/timestamp), as signing configs and cosign name it. */
  tsaUrl: string;
  trustedRootPath: string;
  signingConfigPath: string;
  tuf: { mirrorUrl: string; rootPath: string; repo: TufRepo };
  /** What the trust material was made from, to build variants of it in tests. */
  trustInputs: TrustInputs;
  fulcio: Fulcio;
  rekor: Rekor;
  tsa: Tsa;
  /** Milliseconds from start to ready of each service (they start in parallel) and of the whole. */
  startupMs: { fulcio: number; rekor: number; tsa: number; total: number };
  stop(): Promise<void>;
}

interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Starts services in parallel; each result carries its milliseconds to ready. If any fails, stops
 * those that started and rethrows its error.
 */
async function startAll<const T extends readonly Promise<Stoppable>[]>(
  starts: T,
): Promise<{ -readonly [K in keyof T]: { value: Awaited<T[K]>; ms: number } }> {
  const began = performance.now();
  const settled = await Promise.allSettled(
    starts.map(async (start) => ({ value: await start, ms: performance.now() - began })),
  );
  const started = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.allSettled(started.map((s) => s.value.stop()));
    throw failed.reason;
  }
  return started as never;
}

/** Starts everything; on any failure stops what did start and rethrows. */
export async function startSigstore(runDir: RunDir, options: SigstoreOptions): Promise<Sigstore> {
  // Every validity window opens before this world exists, hence before anything is signed in it.
  const validFrom = new Date(Date.now() - 60_000);
  const issuers: OidcIssuer[] = [
    {
      url: options.issuer,
      type: options.issuerType ?? 'kubernetes',
      ...(options.issuerCaPem === undefined ? {} : { caPem: options.issuerCaPem }),
    },
    ...(options.moreIssuers ?? []),
  ];
  const began = performance.now();
  const [fulcioStart, rekorStart, tsaStart] = await startAll([
    startFulcio(runDir, { issuers }),
    startRekor(runDir),
    startTsa(runDir),
  ]);
  const [fulcio, rekor, tsa] = [fulcioStart.value, rekorStart.value, tsaStart.value];
  const stopServices = () => Promise.allSettled([fulcio.stop(), rekor.stop(), tsa.stop()]);

  try {
    const trustInputs: TrustInputs = {
      fulcio: { url: fulcio.url, chainPem: fulcio.chainPem },
      rekor: { url: rekor.url, publicKeyDer: rekor.publicKeyDer, logId: rekor.logId },
      tsa: { url: tsa.url, timestampUrl: tsa.timestampUrl, chainPem: tsa.chainPem },
      validFrom,
    };
    const trust = writeTrustMaterial(runDir.sub('trust'), trustInputs);
    const repo = await startTufRepo(runDir, {
      targets: {
        'trusted_root.json': readFileSync(trust.trustedRootPath),
        'signing_config.v0.2.json': readFileSync(trust.signingConfigPath),
      },
    });
    let stopping: Promise<void> | undefined;
    const stopAll = (): Promise<void> => {
      stopping ??= Promise.allSettled([repo.stop(), stopServices()]).then(() => undefined);
      return stopping;
    };
    return {
      fulcioUrl: fulcio.url,
      rekorUrl: rekor.url,
      tsaUrl: tsa.timestampUrl,
      trustedRootPath: trust.trustedRootPath,
      signingConfigPath: trust.signingConfigPath,
      tuf: { mirrorUrl: repo.mirrorUrl, rootPath: repo.rootPath, repo },
      trustInputs,
      fulcio,
      rekor,
      tsa,
      startupMs: {
        fulcio: fulcioStart.ms,
        rekor: rekorStart.ms,
        tsa: tsaStart.ms,
        total: performance.now() - began,
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopServices();
    throw error;
  }
}
