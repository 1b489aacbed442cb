// The legacy half of the full tier: what cosign v2 signs against. Fulcio submits every precertificate
// to a CT log (TesseraCT), so its certificates carry a real SCT; Rekor v1 (on Trillian and MariaDB)
// gives each `.sig` signature its signed entry timestamp. Plus the trust material describing exactly
// these three (trust-full.ts).
//
// Order: plan the CT log (URL and key), start Fulcio with them while Rekor v1 starts, then start the
// CT log with Fulcio's root. If a TSA (tsa.ts) runs beside this, start it first: it and rekor-server
// v1.5.x both insist on metrics port 2112, and only the TSA dies of it.
import { planCtLog, type CtLog } from './ctlog.ts';
import { startFulcio, type Fulcio, type OidcIssuer } from './fulcio.ts';
import { startRekorV1, type RekorV1 } from './rekor-v1.ts';
import type { RunDir } from './run-dir.ts';
import { writeLegacyTrustMaterial, type FullTrustMaterial, type LegacyTrustInputs } from './trust-full.ts';

export interface FullTierOptions {
  /** The OIDC issuers Fulcio accepts (e.g. `kubernetesIssuer(kube.issuer, kube.caPem)`). */
  issuers: readonly OidcIssuer[];
}

export interface FullTier {
  fulcio: Fulcio;
  ctlog: CtLog;
  rekorV1: RekorV1;
  /** trusted_root.json (Fulcio, Rekor v1, CT log) and signing_config.json (Fulcio, Rekor v1). */
  trust: FullTrustMaterial;
  trustInputs: LegacyTrustInputs;
  /** Milliseconds from start to ready: each piece, and the whole. */
  startupMs: { fulcio: number; rekorV1: number; ctlog: number; total: number };
  logFiles: readonly string[];
  /** Stops everything that runs. Safe to call twice. */
  stop(): Promise<void>;
}

async function timed<T>(start: Promise<T>, began: number): Promise<[T, number]> {
  const value = await start;
  return [value, Math.round(performance.now() - began)];
}

export async function startFullTier(runDir: RunDir, options: FullTierOptions): Promise<FullTier> {
  // Every validity window opens before this world exists, hence before anything is signed in it.
  const validFrom = new Date(Date.now() - 60_000);
  const began = performance.now();
  const plan = await planCtLog(runDir);
  const [fulcioStart, rekorStart] = await Promise.allSettled([
    timed(startFulcio(runDir, { issuers: options.issuers, ctLog: plan }), began),
    timed(startRekorV1(runDir), began),
  ]);
  const running: { stop(): Promise<void> }[] = [];
  if (fulcioStart.status === 'fulfilled') running.push(fulcioStart.value[0]);
  if (rekorStart.status === 'fulfilled') running.push(rekorStart.value[0]);
  const stopRunning = async (): Promise<void> => {
    await Promise.allSettled(running.map((piece) => piece.stop()));
  };
  if (fulcioStart.status === 'rejected' || rekorStart.status === 'rejected') {
    await stopRunning();
    throw fulcioStart.status === 'rejected'
      ? fulcioStart.reason
      : (rekorStart as PromiseRejectedResult).reason;
  }
  const [fulcio, fulcioMs] = fulcioStart.value;
  const [rekorV1, rekorV1Ms] = rekorStart.value;

  try {
    // TesseraCT accepts chains that end in a root it knows: Fulcio's root, the chain's last block.
    const root = fulcio.chainPem.at(-1);
    const ctlog = await plan.start(root === undefined ? [] : [root]);
    running.push(ctlog);
    const ctlogMs = Math.round(performance.now() - began);
    const trustInputs: LegacyTrustInputs = {
      fulcio: { url: fulcio.url, chainPem: fulcio.chainPem },
      rekorV1: { url: rekorV1.url, publicKeyDer: rekorV1.publicKeyDer, logId: rekorV1.logId },
      ctlog: { url: ctlog.url, publicKeyDer: ctlog.publicKeyDer, logId: ctlog.logId },
      validFrom,
    };
    const trust = writeLegacyTrustMaterial(runDir.sub('trust-full'), trustInputs);
    let stopping: Promise<void> | undefined;
    return {
      fulcio,
      ctlog,
      rekorV1,
      trust,
      trustInputs,
      startupMs: {
        fulcio: fulcioMs,
        rekorV1: rekorV1Ms,
        ctlog: ctlogMs,
        total: Math.round(performance.now() - began),
      },
      logFiles: [fulcio.service.logFile, ctlog.logFile, ...rekorV1.logFiles],
      stop() {
        stopping ??= stopRunning();
        return stopping;
      },
    };
  } catch (error) {
    await stopRunning();
    throw error;
  }
}
