// Policy resources shared by the unit tests (TypeScript compile + the CRD's OpenAPI schema) and by
// e2e/crds.e2e.ts (the real apiserver's OpenAPI and CEL validation). Each invalid case says which
// layer refuses it: `apply` (kubectl apply fails with `kubectl`), or only `status` (the schema accepts
// it, compile reports the field path in the Ready condition). Every case names the TS compile errors.
const V = 'policy.sigward.dev/v1alpha1';
export const EKS_ISSUER = 'https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE';
export const SIGN_SA = 'https://kubernetes.io/namespaces/default/serviceaccounts/sign-serviceaccount';

// A P-256 public key (test only; its private half was thrown away).
export const PUBLIC_KEY_PEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENPRvvfHXPbxUpY1rHDNpye58yA2K
DMAUGTn5JZEKz1XgMYqTp3amxYWlMql3ja3UYzqe9dLQ/xFCnqrZWi1eQQ==
-----END PUBLIC KEY-----
`;

/** The example a security team writes (issue #4). */
export const EXAMPLE_POLICY = {
  apiVersion: V,
  kind: 'ClusterImagePolicy',
  metadata: { name: 'signed-by-ci-job' },
  spec: {
    images: ['registry.example.com/apps/**'],
    mode: 'enforce',
    authorities: [
      {
        name: 'keyless-signing-job',
        keyless: { identities: [{ issuer: EKS_ISSUER, subject: SIGN_SA }] },
      },
    ],
  },
};

export interface ValidCase {
  readonly name: string;
  readonly resource: Record<string, unknown>;
}

export const VALID_POLICIES: readonly ValidCase[] = [
  { name: 'the issue example', resource: EXAMPLE_POLICY },
  {
    name: 'warn mode, regexps, Fulcio extensions, two identities, no SCT',
    resource: {
      apiVersion: V,
      kind: 'ClusterImagePolicy',
      metadata: { name: 'github-releases' },
      spec: {
        images: ['ghcr.io/example/**', 'nginx', 'docker.io/library/redis*'],
        mode: 'warn',
        authorities: [
          {
            name: 'release-workflow',
            keyless: {
              identities: [
                {
                  issuer: 'https://token.actions.githubusercontent.com',
                  subjectRegExp:
                    'https://github\\.com/example/[^/]+/\\.github/workflows/release\\.yml@refs/tags/v.*',
                  extensions: {
                    sourceRepositoryOwnerURI: { exact: 'https://github.com/example' },
                    buildTrigger: { regexp: 'push|release' },
                  },
                },
                { issuerRegExp: 'https://oidc\\.example\\.(com|dev)', subject: 'ci@example.com' },
              ],
              insecureIgnoreSCT: true,
            },
            trustRootRef: 'private-sigstore',
            insecureIgnoreTlog: true,
          },
        ],
      },
    },
  },
  {
    name: 'keys (inline and Secret), threshold 2, all platforms, signature repository',
    resource: {
      apiVersion: V,
      kind: 'ClusterImagePolicy',
      metadata: { name: 'two-person-rule' },
      spec: {
        images: ['registry.example.com/**', '**/base-*'],
        mode: 'audit',
        threshold: 2,
        multiArch: 'all-platforms',
        signatureRepository: {
          repository: 'registry.example.com/signatures',
          pullSecretRef: { name: 'sig-pull' },
        },
        authorities: [
          { name: 'release-key', key: { data: PUBLIC_KEY_PEM } },
          {
            name: 'security-key',
            key: { secretRef: { name: 'security-team', namespace: 'sigward', key: 'cosign.pub' } },
          },
          { name: 'ci', keyless: { identities: [{ issuer: EKS_ISSUER, subject: SIGN_SA }] } },
        ],
      },
    },
  },
  {
    name: 'a namespaced ImagePolicy with an index rule',
    resource: {
      apiVersion: V,
      kind: 'ImagePolicy',
      metadata: { name: 'team-a-images', namespace: 'team-a' },
      spec: {
        images: ['localhost:5000/team-a/*'],
        multiArch: 'index',
        authorities: [
          {
            name: 'team-a-ci',
            keyless: {
              identities: [
                {
                  issuer: EKS_ISSUER,
                  subjectRegExp: 'https://kubernetes\\.io/namespaces/team-a/serviceaccounts/.+',
                },
              ],
            },
          },
        ],
      },
    },
  },
  {
    name: 'an attestation authority: SLSA v1 provenance built from main (CEL)',
    resource: {
      apiVersion: V,
      kind: 'ClusterImagePolicy',
      metadata: { name: 'provenance-from-main' },
      spec: {
        images: ['registry.example.com/apps/**'],
        authorities: [
          {
            name: 'release-workflow',
            keyless: { identities: [{ issuer: EKS_ISSUER, subject: SIGN_SA }] },
            attestations: [
              {
                name: 'provenance',
                predicateType: 'slsaprovenance1',
                conditions: [
                  'predicate.buildDefinition.externalParameters.workflow.ref == "refs/heads/main"',
                ],
              },
              { name: 'sbom', predicateType: 'https://spdx.dev/Document' },
            ],
          },
        ],
      },
    },
  },
];

export const VALID_TRUST_ROOTS: readonly ValidCase[] = [
  {
    name: 'public-good',
    resource: {
      apiVersion: V,
      kind: 'TrustRoot',
      metadata: { name: 'public-good' },
      spec: { publicGood: {} },
    },
  },
  {
    name: 'a TUF mirror',
    resource: {
      apiVersion: V,
      kind: 'TrustRoot',
      metadata: { name: 'mirror' },
      spec: { tuf: { mirror: 'https://tuf.example.com', root: '{"signed":{},"signatures":[]}' } },
    },
  },
  {
    name: 'inline trusted_root.json',
    resource: {
      apiVersion: V,
      kind: 'TrustRoot',
      metadata: { name: 'private-sigstore' },
      spec: { trustedRoot: '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}' },
    },
  },
  {
    name: 'a ConfigMap',
    resource: {
      apiVersion: V,
      kind: 'TrustRoot',
      metadata: { name: 'from-configmap' },
      spec: { configMapRef: { name: 'trusted-root', namespace: 'sigward' } },
    },
  },
];

export interface InvalidCase {
  readonly name: string;
  readonly resource: Record<string, unknown>;
  /** Field paths compile reports (TrustRoot cases: compileTrustRoot). */
  readonly tsFields: readonly string[];
  /** `apply`: the apiserver refuses it with a message matching `kubectl`; `status`: it is stored, Ready=False. */
  readonly layer: 'apply' | 'status';
  readonly kubectl?: RegExp;
  /** The CRD's OpenAPI part alone (no CEL) already refuses it: checked by the unit test too. */
  readonly openapi?: boolean;
}

function policy(
  name: string,
  spec: Record<string, unknown>,
  kind = 'ClusterImagePolicy',
): Record<string, unknown> {
  const metadata = kind === 'ImagePolicy' ? { name, namespace: 'default' } : { name };
  return { apiVersion: V, kind, metadata, spec };
}
const keyless = (identity: Record<string, unknown>) => ({ identities: [identity] });
const okAuthority = { name: 'ci', keyless: keyless({ issuer: EKS_ISSUER, subject: SIGN_SA }) };

export const INVALID_POLICIES: readonly InvalidCase[] = [
  {
    name: 'both keyless and key in one authority',
    resource: policy('bad-both', {
      images: ['**'],
      authorities: [{ ...okAuthority, key: { data: PUBLIC_KEY_PEM } }],
    }),
    tsFields: ['spec.authorities[0]'],
    layer: 'apply',
    kubectl: /spec\.authorities\[0\]: Invalid value: set exactly one of keyless or key/,
  },
  {
    name: 'neither keyless nor key',
    resource: policy('bad-neither', { images: ['**'], authorities: [{ name: 'nothing' }] }),
    tsFields: ['spec.authorities[0]'],
    layer: 'apply',
    kubectl: /set exactly one of keyless or key/,
  },
  {
    name: 'subject and subjectRegExp together',
    resource: policy('bad-subject-both', {
      images: ['**'],
      authorities: [
        { name: 'ci', keyless: keyless({ issuer: EKS_ISSUER, subject: SIGN_SA, subjectRegExp: '.*' }) },
      ],
    }),
    tsFields: ['spec.authorities[0].keyless.identities[0].subject'],
    layer: 'apply',
    kubectl:
      /spec\.authorities\[0\]\.keyless\.identities\[0\]: Invalid value: set exactly one of subject or subjectRegExp/,
  },
  {
    name: 'no issuer (an identity must name both)',
    resource: policy('bad-no-issuer', {
      images: ['**'],
      authorities: [{ name: 'ci', keyless: keyless({ subject: SIGN_SA }) }],
    }),
    tsFields: ['spec.authorities[0].keyless.identities[0].issuer'],
    layer: 'apply',
    kubectl: /set exactly one of issuer or issuerRegExp/,
  },
  {
    name: 'threshold above the number of authorities',
    resource: policy('bad-threshold', { images: ['**'], threshold: 2, authorities: [okAuthority] }),
    tsFields: ['spec.threshold'],
    layer: 'apply',
    kubectl: /spec\.threshold: Invalid value: threshold counts distinct authorities/,
  },
  {
    name: 'an unknown mode',
    resource: policy('bad-mode', { images: ['**'], mode: 'block', authorities: [okAuthority] }),
    tsFields: ['spec.mode'],
    layer: 'apply',
    kubectl: /spec\.mode: Unsupported value: "block": supported values: "enforce", "warn", "audit"/,
    openapi: true,
  },
  {
    name: 'a glob with a tag',
    resource: policy('bad-glob-tag', { images: ['nginx:1.27'], authorities: [okAuthority] }),
    tsFields: ['spec.images[0]'],
    layer: 'apply',
    kubectl: /spec\.images\[0\]: Invalid value: "nginx:1\.27": must be a repository glob/,
  },
  {
    name: 'a glob with a digest',
    resource: policy('bad-glob-digest', {
      images: [`ghcr.io/o/app@sha256:${'a'.repeat(64)}`],
      authorities: [okAuthority],
    }),
    tsFields: ['spec.images[0]'],
    layer: 'apply',
    kubectl: /must be a repository glob/,
  },
  {
    name: 'a ** inside a path segment',
    resource: policy('bad-glob-stars', { images: ['ghcr.io/o/a**'], authorities: [okAuthority] }),
    tsFields: ['spec.images[0]'],
    layer: 'apply',
    kubectl: /spec\.images\[0\]: Invalid value: "ghcr\.io\/o\/a\*\*": \*\* must be a whole path segment/,
  },
  {
    name: 'no images',
    resource: policy('bad-no-images', { images: [], authorities: [okAuthority] }),
    tsFields: ['spec.images'],
    layer: 'apply',
    kubectl: /spec\.images: Invalid value: 0: spec\.images in body should have at least 1 items/,
    openapi: true,
  },
  {
    name: 'two authorities with one name',
    resource: policy('bad-duplicate', { images: ['**'], authorities: [okAuthority, { ...okAuthority }] }),
    tsFields: ['spec.authorities[1].name'],
    layer: 'apply',
    kubectl: /spec\.authorities\[1\]: Duplicate value: \{"name":"ci"\}/,
  },
  {
    name: 'a misspelt field (subjectRegex)',
    resource: policy('bad-typo', {
      images: ['**'],
      authorities: [
        { name: 'ci', keyless: keyless({ issuer: EKS_ISSUER, subject: SIGN_SA, subjectRegex: '.*' }) },
      ],
    }),
    tsFields: ['spec.authorities[0].keyless.identities[0].subjectRegex'],
    layer: 'apply',
    kubectl: /unknown field "spec\.authorities\[0\]\.keyless\.identities\[0\]\.subjectRegex"/,
    openapi: true,
  },
  {
    name: 'an unknown Fulcio extension',
    resource: policy('bad-extension', {
      images: ['**'],
      authorities: [
        {
          name: 'ci',
          keyless: keyless({
            issuer: EKS_ISSUER,
            subject: SIGN_SA,
            extensions: { repository: { exact: 'x' } },
          }),
        },
      ],
    }),
    tsFields: ['spec.authorities[0].keyless.identities[0].extensions.repository'],
    layer: 'apply',
    kubectl: /unknown field "spec\.authorities\[0\]\.keyless\.identities\[0\]\.extensions\.repository"/,
    openapi: true,
  },
  {
    name: 'an authority name that is not a DNS label',
    resource: policy('bad-authority-name', {
      images: ['**'],
      authorities: [{ ...okAuthority, name: 'CI Job' }],
    }),
    tsFields: ['spec.authorities[0].name'],
    layer: 'apply',
    kubectl:
      /spec\.authorities\[0\]\.name: Invalid value: "CI Job": spec\.authorities\[0\]\.name in body should match/,
    openapi: true,
  },
  {
    name: 'an invalid regular expression (only compile can tell)',
    resource: policy('bad-regexp', {
      images: ['**'],
      authorities: [
        okAuthority,
        {
          name: 'second',
          keyless: {
            identities: [
              okAuthority.keyless.identities[0],
              { issuer: EKS_ISSUER, subjectRegExp: 'https://(unclosed' },
            ],
          },
        },
      ],
    }),
    tsFields: ['spec.authorities[1].keyless.identities[1].subjectRegExp'],
    layer: 'status',
  },
  {
    name: 'an RE2-unsupported lookahead',
    resource: policy('bad-lookahead', {
      images: ['**'],
      authorities: [{ name: 'ci', keyless: keyless({ issuer: EKS_ISSUER, subjectRegExp: '(?!evil).*' }) }],
    }),
    tsFields: ['spec.authorities[0].keyless.identities[0].subjectRegExp'],
    layer: 'status',
  },
  {
    name: 'a key that is not PEM',
    resource: policy('bad-key', { images: ['**'], authorities: [{ name: 'k', key: { data: 'not a key' } }] }),
    tsFields: ['spec.authorities[0].key.data'],
    layer: 'status',
  },
  {
    name: "an ImagePolicy reading another namespace's Secret (only compile knows the namespace)",
    resource: policy(
      'bad-secret-namespace',
      {
        images: ['**'],
        authorities: [{ name: 'k', key: { secretRef: { name: 'keys', namespace: 'kube-system' } } }],
      },
      'ImagePolicy',
    ),
    tsFields: ['spec.authorities[0].key.secretRef.namespace'],
    layer: 'status',
  },
  {
    name: 'an attestation condition that does not type-check',
    resource: policy('bad-condition', {
      images: ['**'],
      authorities: [
        {
          ...okAuthority,
          attestations: [{ name: 'p', predicateType: 'slsaprovenance1', conditions: ['now > 5'] }],
        },
      ],
    }),
    tsFields: ['spec.authorities[0].attestations[0].conditions[0]'],
    layer: 'status',
  },
  {
    name: 'an attestation without a predicate type',
    resource: policy('bad-attestation', {
      images: ['**'],
      authorities: [{ ...okAuthority, attestations: [{ name: 'p' }] }],
    }),
    tsFields: ['spec.authorities[0].attestations[0].predicateType'],
    layer: 'apply',
    kubectl: /spec\.authorities\[0\]\.attestations\[0\]\.predicateType: Required value/,
    openapi: true,
  },
];

export const INVALID_TRUST_ROOTS: readonly InvalidCase[] = [
  {
    name: 'two sources',
    resource: {
      apiVersion: V,
      kind: 'TrustRoot',
      metadata: { name: 'two-sources' },
      spec: { publicGood: {}, trustedRoot: '{}' },
    },
    tsFields: ['spec'],
    layer: 'apply',
    kubectl: /spec: Invalid value: set exactly one of publicGood, tuf, trustedRoot or configMapRef/,
  },
  {
    name: 'no source',
    resource: { apiVersion: V, kind: 'TrustRoot', metadata: { name: 'no-source' }, spec: {} },
    tsFields: ['spec'],
    layer: 'apply',
    kubectl: /set exactly one of publicGood, tuf, trustedRoot or configMapRef/,
  },
  {
    name: 'public-good pointing elsewhere',
    resource: {
      apiVersion: V,
      kind: 'TrustRoot',
      metadata: { name: 'public-good' },
      spec: { trustedRoot: '{}' },
    },
    tsFields: ['spec'],
    layer: 'apply',
    kubectl: /the TrustRoot named public-good must use spec\.publicGood/,
  },
  {
    name: 'a mirror that is not a URL',
    resource: {
      apiVersion: V,
      kind: 'TrustRoot',
      metadata: { name: 'bad-mirror' },
      spec: { tuf: { mirror: 'tuf.example.com', root: '{}' } },
    },
    tsFields: ['spec.tuf.mirror'],
    layer: 'apply',
    kubectl: /spec\.tuf\.mirror: Invalid value: "tuf\.example\.com": must be an http\(s\) URL/,
  },
  {
    name: 'inline trusted root that is not JSON',
    resource: {
      apiVersion: V,
      kind: 'TrustRoot',
      metadata: { name: 'not-json' },
      spec: { trustedRoot: '{not json' },
    },
    tsFields: ['spec.trustedRoot'],
    layer: 'status',
  },
  {
    name: 'a TUF root that is not JSON',
    resource: {
      apiVersion: V,
      kind: 'TrustRoot',
      metadata: { name: 'bad-tuf-root' },
      spec: { tuf: { mirror: 'https://tuf.example.com', root: 'cm9vdC5qc29u' } },
    },
    tsFields: ['spec.tuf.root'],
    layer: 'status',
  },
];
