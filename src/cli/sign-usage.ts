// The help of `sigward sign` and `sigward attest`, and cosign's short names for predicate types.
import { PREDICATE_SHORT_NAMES } from '../policy/predicate-types.ts';
import { DEFAULT_AUDIENCE, DEFAULT_KUBERNETES_TOKEN_PATH, PROVIDER_NAMES } from '../signer/identity-token.ts';

const common = `Identity (first found, unless --oidc-provider names one):
  --identity-token TOKEN|FILE  an OIDC token, or a file holding one (re-read on each use)
  SIGSTORE_ID_TOKEN            environment (GitLab CI id_tokens use this name)
  GitHub Actions               ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN (permissions: id-token: write)
  --kubernetes-token-path P    projected service-account token, audience sigstore
                               (default ${DEFAULT_KUBERNETES_TOKEN_PATH}; re-read on each use)
  --oidc-provider NAME         one of ${PROVIDER_NAMES.join(', ')} (cosign's filesystem, envvar too)
  --audience AUD               the audience Fulcio expects (default ${DEFAULT_AUDIENCE})

Sigstore services (default: public-good, signing_config.v0.2.json and trusted_root.json from its TUF
repository; the URLs and root built into sigward when TUF cannot be reached):
  --signing-config FILE        signing_config.json (v0.2): Fulcio, Rekor v1/v2, TSA
  --trusted-root FILE          trusted_root.json, for the SCT check and the self-check
  --tuf-mirror URL --tuf-root FILE   a private TUF repository for both (SIGWARD_TUF_CACHE: cache dir)
  --fulcio-url URL  --rekor-url URL  --rekor-api-version 1|2  --timestamp-server-url URL
  --no-verify                  skip verifying the pushed signature with sigward's verifier

Registry:
  --registry-config FILE       docker config.json (default $DOCKER_CONFIG/config.json or ~/.docker/config.json);
                               its credHelpers / credsStore run docker-credential-<name> when a registry asks
  --registry-username U --registry-password P   (or SIGWARD_REGISTRY_PASSWORD)
  --allow-insecure-registry HOST   may use plain HTTP (loopback always may), repeatable
                               (--insecure-registry HOST: the same)
  --registry-ca FILE           extra CA certificates (PEM)
  --cloud-credentials auto|none|ecr,gcp,acr   ECR, Artifact Registry/GCR and ACR hosts get a token from
                               the workload's cloud identity, each only for its own hosts (default auto)
  --credential-provider-config FILE|DIR --credential-provider-bin-dir DIR
                               kubelet credential provider plugins (e.g. ecr-credential-provider), as the kubelet runs them

Output:
  --bundle FILE                also write the Sigstore bundle to FILE
  --timeout SECONDS            per network request (default 30)

Sigstore services behind a private CA: NODE_EXTRA_CA_CERTS=ca.pem (or node --use-system-ca); behind
a proxy: NODE_USE_ENV_PROXY=1 with HTTPS_PROXY. A token passed on the command line is visible to
other local users in the process list: prefer a file, the environment or the projected token.
`;

export const signUsage = `Usage: sigward sign [flags] IMAGE
  --format bundle|legacy       bundle (default): cosign v3's Sigstore bundle referrer (DSSE, in-toto
                               statement https://sigstore.dev/cosign/sign/v1); legacy: the
                               sha256-<hex>.sig tag (with Rekor v2 it carries only the TSA timestamp)
  --recursive                  IMAGE is an index: sign each platform manifest too (one certificate)

${common}`;

export const attestUsage = `Usage: sigward attest [flags] --predicate FILE --type TYPE IMAGE
  --predicate FILE             the predicate JSON
  --type TYPE                  a predicate type URI, or one of: ${PREDICATE_SHORT_NAMES.join(', ')}

${common}`;

/** cosign's short names for predicate types: one definition, shared with policies (policy/predicate-types.ts). */
export { PREDICATE_TYPES } from '../policy/predicate-types.ts';
