// The public-good trusted_root.json (the file sigward is given with --trusted-root) turned into a
// policy-controller TrustRoot with `sigstoreKeys`, so that both webhooks trust exactly the same keys
// without reaching the public TUF CDN (policy-controller runs with --disable-tuf).
//
// policy-controller's SigstoreKeys (pkg/apis/policy/v1alpha1/trustroot_types.go) holds PEM text in
// base64 (`[]byte` fields), no validity ranges and no log IDs (it derives them from the keys):
//  - certificate chains: PEM certificates, the root last (trusted_root.json's order);
//  - log keys: one PEM public key; `hashAlgorithm` as "sha-256";
//  - logs whose key policy-controller cannot express (its DeserializePublicKey knows ECDSA and RSA
//    only; an Ed25519 key, e.g. the Rekor v2 log, becomes "unspecified" and sigstore-go refuses the
//    whole root) are left out and reported, so the caller can say so.

export interface TrustedRootJson {
  readonly tlogs?: readonly LogJson[];
  readonly ctlogs?: readonly LogJson[];
  readonly certificateAuthorities?: readonly AuthorityJson[];
  readonly timestampAuthorities?: readonly AuthorityJson[];
}
interface LogJson {
  readonly baseUrl: string;
  readonly hashAlgorithm?: string;
  readonly publicKey: { readonly rawBytes: string; readonly keyDetails?: string };
}
interface AuthorityJson {
  readonly subject?: { readonly organization?: string; readonly commonName?: string };
  readonly uri?: string;
  readonly certChain: { readonly certificates: readonly { readonly rawBytes: string }[] };
}

export interface SigstoreKeys {
  certificateAuthorities: object[];
  tLogs: object[];
  ctLogs: object[];
  timestampAuthorities: object[];
}

const pem = (label: string, derBase64: string): string =>
  `-----BEGIN ${label}-----\n${derBase64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

const HASH_NAMES: Readonly<Record<string, string>> = {
  SHA2_256: 'sha-256',
  SHA2_384: 'sha-384',
  SHA2_512: 'sha-512',
};
/** Key types policy-controller maps to a sigstore key detail (ECDSA and RSA; see the header). */
const EXPRESSIBLE_KEY = /^PKIX_(ECDSA_P(256|384|521)|RSA_)/;

function authority(a: AuthorityJson): object {
  const chain = a.certChain.certificates.map((c) => pem('CERTIFICATE', c.rawBytes)).join('');
  return {
    subject: { organization: a.subject?.organization ?? '', commonName: a.subject?.commonName ?? '' },
    uri: a.uri ?? '',
    certChain: base64(chain),
  };
}

/** The TrustRoot spec's `sigstoreKeys`, and the base URLs of the logs left out (with why). */
export function sigstoreKeysOf(root: TrustedRootJson): { keys: SigstoreKeys; leftOut: string[] } {
  const leftOut: string[] = [];
  const logs = (entries: readonly LogJson[] | undefined, what: string): object[] =>
    (entries ?? []).flatMap((log) => {
      const details = log.publicKey.keyDetails ?? '';
      if (!EXPRESSIBLE_KEY.test(details)) {
        leftOut.push(`${what} ${log.baseUrl} (${details || 'no key details'})`);
        return [];
      }
      const hash = HASH_NAMES[log.hashAlgorithm ?? 'SHA2_256'];
      if (hash === undefined) throw new Error(`${what} ${log.baseUrl}: unknown hash ${log.hashAlgorithm}`);
      return [
        {
          baseURL: log.baseUrl,
          hashAlgorithm: hash,
          publicKey: base64(pem('PUBLIC KEY', log.publicKey.rawBytes)),
        },
      ];
    });
  const keys: SigstoreKeys = {
    certificateAuthorities: (root.certificateAuthorities ?? []).map(authority),
    tLogs: logs(root.tlogs, 'tlog'),
    ctLogs: logs(root.ctlogs, 'ctlog'),
    timestampAuthorities: (root.timestampAuthorities ?? []).map(authority),
  };
  if (keys.certificateAuthorities.length === 0) throw new Error('trusted root has no certificate authority');
  return { keys, leftOut };
}
