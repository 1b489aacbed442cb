// The witnesses of a signature, from the services chosen: a transparency log entry (Rekor v1 through
// @sigstore/sign, Rekor v2 through our own witness, see rekor-v2.ts) and an RFC 3161 timestamp of the
// signature bytes. Their failures become SignerErrors that name the service.
import {
  RekorWitness,
  TSAWitness,
  type SignatureBundle,
  type VerificationMaterial,
  type Witness,
} from '@sigstore/sign';
import { redactUrlCredentials } from '../errors.ts';
import { SignerError, SignerErrorCode, scrub, type SignerErrorCode as Code } from './errors.ts';
import { RekorV2Witness } from './rekor-v2.ts';
import type { Services } from './services.ts';

export interface WitnessOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** The library's error and its HTTP cause in one line (`(400) invalid type …`), scrubbed. */
function describeLibraryError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current instanceof Error; depth++) {
    parts.push(current.message);
    current = (current as { cause?: unknown }).cause;
  }
  return scrub(parts.filter((p, i) => p.length > 0 && parts.indexOf(p) === i).join(': '));
}

function named(service: string, code: Code, witness: Witness): Witness {
  return {
    async testify(content: SignatureBundle, publicKey: string): Promise<VerificationMaterial> {
      try {
        return await witness.testify(content, publicKey);
      } catch (error) {
        if (error instanceof SignerError) throw error;
        throw new SignerError(code, `${service} failed: ${describeLibraryError(error)}`, {
          details: { service },
        });
      }
    },
  };
}

export function witnessesFor(services: Services, options: WitnessOptions = {}): Witness[] {
  const timeout = options.timeoutMs ?? 30_000;
  const witnesses: Witness[] = [];
  const { rekor, tsa } = services;
  if (rekor?.majorApiVersion === 2) {
    witnesses.push(
      new RekorV2Witness({
        rekorUrl: rekor.url,
        timeoutMs: timeout,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      }),
    );
  } else if (rekor !== undefined) {
    witnesses.push(
      named(
        `Rekor (${redactUrlCredentials(rekor.url)})`,
        SignerErrorCode.rekor,
        new RekorWitness({
          rekorBaseURL: rekor.url,
          majorApiVersion: 1,
          entryType: 'dsse',
          fetchOnConflict: true,
          timeout,
          retry: { retries: 2 },
        }),
      ),
    );
  }
  if (tsa !== undefined) {
    witnesses.push(
      named(
        `the timestamp authority (${redactUrlCredentials(tsa.url)})`,
        SignerErrorCode.tsa,
        new TSAWitness({ tsaBaseURL: tsa.url, timeout, retry: { retries: 2 } }),
      ),
    );
  }
  return witnesses;
}
