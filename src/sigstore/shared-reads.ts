// The registry reads of one evaluation, shared between the verifications that run beside each other
// on one digest: an authority group that requires signatures AND attestations runs both discoveries at
// once, and they list the same referrers, read the same fallback tag, referrer manifests and blobs.
// Each distinct read is sent once; its answer (or failure) goes to every asker. Callers sharing one
// SharedReads share one deadline (the first asker's signal goes with the request). Kept only as long
// as the evaluation holds it: nothing survives into another review.
import type { RegistryClient } from '../oci/index.ts';
import type { Descriptor, ImageReference, RepositoryName } from '../oci/index.ts';

/** The reads verification makes (a RegistryClient, or a stand-in in tests). */
export type RegistryReader = Pick<
  RegistryClient,
  'listReferrers' | 'findManifest' | 'getBlob' | 'getManifest'
>;

export class SharedReads {
  // One memory per client: clients differ in credentials, and an answer is only shared under the same.
  readonly #readers = new WeakMap<RegistryReader, RegistryReader>();

  /** `client` with its reads shared among everyone reading through this SharedReads. */
  over<C extends RegistryReader>(client: C): RegistryReader {
    let reader = this.#readers.get(client);
    if (reader === undefined) {
      reader = sharedReader(client);
      this.#readers.set(client, reader);
    }
    return reader;
  }
}

const repo = (name: RepositoryName): string => `${name.registry}/${name.repository}`;
const ref = (r: ImageReference): string => `${repo(r)}:${r.tag ?? ''}@${r.digest ?? ''}`;

function sharedReader(client: RegistryReader): RegistryReader {
  const pending = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    let answer = pending.get(key) as Promise<T> | undefined;
    if (answer === undefined) {
      answer = read();
      pending.set(key, answer);
    }
    return answer;
  };
  return {
    listReferrers: (name, subject, options) =>
      once(
        `referrers ${repo(name)} ${subject} ${options?.artifactType ?? ''} ${options?.fallbackTag ?? true}`,
        () => client.listReferrers(name, subject, options),
      ),
    findManifest: (reference, signal) =>
      once(`find ${ref(reference)}`, () => client.findManifest(reference, signal)),
    getManifest: (reference, signal) =>
      once(`get ${ref(reference)}`, () => client.getManifest(reference, signal)),
    getBlob: (name, blob, options) =>
      once(blobKey(name, blob, options?.maxBytes), () => client.getBlob(name, blob, options)),
  };
}

/**
 * A blob read under a cap it fits in is the same read whatever the cap (the client never reads past
 * the size a descriptor declares); otherwise the cap is part of what was asked.
 */
function blobKey(name: RepositoryName, blob: string | Descriptor, maxBytes: number | undefined): string {
  if (typeof blob === 'string') return `blob ${repo(name)} ${blob} - ${maxBytes ?? ''}`;
  const fits = maxBytes === undefined || blob.size <= maxBytes;
  return `blob ${repo(name)} ${blob.digest} ${blob.size} ${fits ? '' : maxBytes}`;
}
