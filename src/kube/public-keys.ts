// Public keys held in Secrets (authorities with `key.secretRef`): `get` on that one secret, parsed as
// a PEM public key, kept briefly. A key that does not parse is an error naming the secret and key.
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { CoreV1Api } from '@kubernetes/client-node';
import { SigwardError } from '../errors.ts';

export class SecretPublicKeys {
  readonly #core: CoreV1Api;
  readonly #cache: LRUCache<string, KeyObject>;

  constructor(core: CoreV1Api, ttlMs = 30_000) {
    this.#core = core;
    this.#cache = new LRUCache({ max: 1000, ttl: ttlMs });
  }

  async publicKey(ref: { namespace: string; name: string; key: string }): Promise<KeyObject> {
    const id = `${ref.namespace}/${ref.name}/${ref.key}`;
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached;
    let data: string | undefined;
    try {
      const secret = await this.#core.readNamespacedSecret({ namespace: ref.namespace, name: ref.name });
      data = secret.data?.[ref.key];
    } catch (error) {
      throw new SigwardError(
        'POLICY_KEY_UNAVAILABLE',
        `secret ${ref.namespace}/${ref.name} could not be read`,
        {
          cause: error,
        },
      );
    }
    if (data === undefined)
      throw new SigwardError(
        'POLICY_KEY_UNAVAILABLE',
        `secret ${ref.namespace}/${ref.name} has no key ${ref.key}`,
      );
    try {
      const key = createPublicKey(Buffer.from(data, 'base64'));
      this.#cache.set(id, key);
      return key;
    } catch (error) {
      throw new SigwardError(
        'POLICY_KEY_INVALID',
        `secret ${ref.namespace}/${ref.name} key ${ref.key} is not a PEM public key`,
        { cause: error },
      );
    }
  }
}
