// Public keys held in Secrets (authorities with `key.secretRef`). Least privilege: `get` on that one
// Secret by name, never list or watch (a watch would need list/watch on every Secret of a namespace, or
// of the whole cluster for ImagePolicies). Instead each Secret is re-read when its last read is older
// than `refreshMs` (default 5 s): a rotated key or a deleted Secret takes effect within that, and a
// burst of admissions costs one read per Secret per interval (concurrent askers share one read). A
// failed read is kept for the same interval, so a missing Secret does not turn every admission into an
// apiserver call either; it is never served as a key. Errors name the Secret, never its content.
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { CoreApi } from './client/apis.ts';
import { statusOf } from './client/errors.ts';
import { SigwardError } from '../errors.ts';

export interface SecretPublicKeyOptions {
  /** How old a read may be before the Secret is read again. Default 5 s. */
  readonly refreshMs?: number;
  /** Secrets remembered at most (least recently used dropped first). Default 1000. */
  readonly maxEntries?: number;
  /** Milliseconds, monotonic; for tests. */
  readonly now?: () => number;
}

type Read = { readonly key: KeyObject } | { readonly error: SigwardError };

export class SecretPublicKeys {
  readonly #core: Pick<CoreApi, 'readSecret'>;
  readonly #refreshMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #reads = new Map<string, { readonly at: number; readonly read: Read }>();
  readonly #inflight = new Map<string, Promise<Read>>();
  readonly #listeners = new Set<() => unknown>();

  constructor(core: Pick<CoreApi, 'readSecret'>, options: SecretPublicKeyOptions = {}) {
    this.#core = core;
    this.#refreshMs = options.refreshMs ?? 5_000;
    this.#maxEntries = options.maxEntries ?? 1000;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Calls `listener` whenever a re-read finds a Secret's key changed (rotated, gone, back): whoever
   * asked, admission included, so the re-check hears of a rotation at once. Returns the unsubscribe.
   */
  onChange(listener: () => unknown): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async publicKey(ref: { namespace: string; name: string; key: string }): Promise<KeyObject> {
    const read = await this.#current(ref);
    if ('error' in read) throw read.error;
    return read.key;
  }

  #current(ref: { namespace: string; name: string; key: string }): Promise<Read> {
    const id = `${ref.namespace}/${ref.name}/${ref.key}`;
    const last = this.#reads.get(id);
    if (last !== undefined && this.#now() - last.at < this.#refreshMs) return Promise.resolve(last.read);
    let running = this.#inflight.get(id);
    if (running === undefined) {
      const at = this.#now();
      running = this.#read(ref)
        .then((read) => {
          this.#remember(id, at, read);
          return read;
        })
        .finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, running);
    }
    return running;
  }

  #remember(id: string, at: number, read: Read): void {
    const before = this.#reads.get(id);
    this.#reads.delete(id);
    this.#reads.set(id, { at, read });
    if (before !== undefined && printOf(before.read) !== printOf(read))
      for (const listener of this.#listeners) listener();
    if (this.#reads.size > this.#maxEntries) {
      const oldest = this.#reads.keys().next();
      if (oldest.done !== true) this.#reads.delete(oldest.value);
    }
  }

  async #read(ref: { namespace: string; name: string; key: string }): Promise<Read> {
    const secret = `${ref.namespace}/${ref.name}`;
    let data: string | undefined;
    try {
      const found = await this.#core.readSecret({ namespace: ref.namespace, name: ref.name });
      data = found.data?.[ref.key];
    } catch (error) {
      return {
        error: new SigwardError('POLICY_KEY_UNAVAILABLE', unreadable(secret, error), { cause: error }),
      };
    }
    if (data === undefined)
      return {
        error: new SigwardError('POLICY_KEY_UNAVAILABLE', `the key Secret ${secret} has no key ${ref.key}`),
      };
    try {
      return { key: createPublicKey(Buffer.from(data, 'base64')) };
    } catch (error) {
      return {
        error: new SigwardError(
          'POLICY_KEY_INVALID',
          `the key Secret ${secret}, key ${ref.key}, is not a PEM public key`,
          { cause: error },
        ),
      };
    }
  }
}

/** What a read says, to tell a changed key from the same one read again. */
function printOf(read: Read): string {
  return 'key' in read
    ? read.key.export({ type: 'spki', format: 'der' }).toString('base64')
    : `${read.error.code}: ${read.error.message}`;
}

function unreadable(secret: string, error: unknown): string {
  const status = statusOf(error);
  if (status === 404) return `the key Secret ${secret} does not exist`;
  if (status === 403) return `sigward may not read the key Secret ${secret} (403 Forbidden)`;
  return typeof status === 'number'
    ? `the key Secret ${secret} could not be read (HTTP ${status})`
    : `the key Secret ${secret} could not be read (the apiserver did not answer)`;
}
