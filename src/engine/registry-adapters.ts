// The real resolver and verifier over src/oci and src/sigstore. One HTTP transport and one token
// cache for the whole process (connections and registry tokens are reused across reviews); a client
// per keychain, since credentials differ per workload.
import { HttpTransport, RegistryClient, TokenCache } from '../oci/index.ts';
import type { Exchange, ImageReference, Keychain, TransportOptions } from '../oci/index.ts';
import type { RegistryReader } from '../sigstore/shared-reads.ts';
import { verifyAttestations } from '../sigstore/verify-attestations.ts';
import type { AttestationVerdict } from '../sigstore/verify-attestations.ts';
import { verifyImage } from '../sigstore/verify-image.ts';
import type { ImageVerdict } from '../sigstore/verify-image.ts';
import type { AttestationRequest, ImageResolver, SignatureVerifier, VerifyRequest } from './ports.ts';

export interface RegistryAccessOptions extends TransportOptions {
  readonly onExchange?: (exchange: Exchange) => void;
}

export class RegistryAccess implements ImageResolver, SignatureVerifier {
  readonly #transport: HttpTransport;
  readonly #tokens = new TokenCache();
  readonly #clients = new WeakMap<Keychain, RegistryClient>();

  constructor(options: RegistryAccessOptions = {}) {
    this.#transport = new HttpTransport(options);
  }

  /** The one transport of registry traffic: credential exchanges with a registry (ACR) use it too. */
  get transport(): HttpTransport {
    return this.#transport;
  }

  client(keychain: Keychain): RegistryClient {
    let client = this.#clients.get(keychain);
    if (client === undefined) {
      client = new RegistryClient({ transport: this.#transport, keychain, tokenCache: this.#tokens });
      this.#clients.set(keychain, client);
    }
    return client;
  }

  async resolveDigest(reference: ImageReference, keychain: Keychain, signal: AbortSignal): Promise<string> {
    return (await this.client(keychain).resolve(reference, signal)).digest;
  }

  verify(request: VerifyRequest): Promise<ImageVerdict> {
    return verifyImage({
      client: this.#reader(request),
      image: request.image,
      authorities: request.authorities,
      trust: request.trust.material,
      multiArch: request.multiArch,
      discovery: discoveryOptions(request),
    });
  }

  verifyAttestations(request: AttestationRequest): Promise<AttestationVerdict> {
    return verifyAttestations({
      client: this.#reader(request),
      image: request.image,
      authorities: request.authorities,
      trust: request.trust.material,
      predicateTypes: request.predicateTypes,
      discovery: discoveryOptions(request),
    });
  }

  /** The request's client, through the reads it shares with a verification beside it, if any. */
  #reader(request: Pick<VerifyRequest, 'keychain' | 'reads'>): RegistryReader {
    const client = this.client(request.keychain);
    return request.reads === undefined ? client : request.reads.over(client);
  }

  close(): Promise<void> {
    return this.#transport.close();
  }
}

/** Where discovery looks and when it stops, the same for signatures and attestations. */
function discoveryOptions(request: {
  readonly signal: AbortSignal;
  readonly signatureRepository?: VerifyRequest['signatureRepository'];
}) {
  return {
    signal: request.signal,
    ...(request.signatureRepository === undefined
      ? {}
      : { signatureRepository: request.signatureRepository }),
  };
}
