// Read-back after a read-modify-write of a shared tag (the referrers fallback index, a legacy .sig
// manifest). Registries without the referrers API rarely honour If-Match (docker-registry does not),
// so two signers at once can each write a version without the other's entry
// (google/go-containerregistry#2205, which cosign has). The tag is read again after a short, jittered
// pause and the entry written back if a concurrent writer dropped it, until two reads in a row show
// it. Not a lock, but it closes the race for signers that overlap.
import { setTimeout as delay } from 'node:timers/promises';
import { SigwardError } from '../errors.ts';

export interface SettleOptions {
  /** Whether the tag holds our entry now. */
  readonly present: () => Promise<boolean>;
  /** Writes our entry again. */
  readonly repair: () => Promise<void>;
  /** The tag, in words, for the error when it never settles. */
  readonly what: string;
  readonly signal?: AbortSignal;
}

/** Read-backs before giving up. */
const ROUNDS = 8;

export async function settle(options: SettleOptions): Promise<void> {
  const wait = options.signal === undefined ? {} : { signal: options.signal };
  let confirmations = 0;
  for (let round = 0; round < ROUNDS && confirmations < 2; round++) {
    await delay(50 + Math.floor(Math.random() * 150), undefined, wait);
    if (await options.present()) {
      confirmations++;
      continue;
    }
    confirmations = 0;
    // A write that loses to a concurrent one (docker-registry may even answer 400 or 500 then) is
    // simply tried again next round; only a refusal ends it.
    await options.repair().catch((error: unknown) => {
      if (!(error instanceof SigwardError)) throw error;
      if (error.code === 'REGISTRY_UNAUTHORIZED' || error.code === 'REGISTRY_DENIED') throw error;
    });
  }
  if (confirmations < 2) {
    throw new SigwardError(
      'REGISTRY_CONFLICT',
      `${options.what} still lacks the new entry after ${ROUNDS} read-backs and rewrites: other writers keep ` +
        'replacing it (this registry offers no conditional write); run the signing again once the other ' +
        'signers of this image have finished',
    );
  }
}
