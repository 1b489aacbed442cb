// cosign's short names for in-toto predicate types (sigstore/cosign cmd/cosign/cli/options/predicate.go),
// shared by `sigward attest --type`, `sigward verify-attestation --type` and a policy's
// `attestations[].predicateType`. A value that is not a short name must be a URI and is taken as is.

/** Short name → predicate type URI, exactly as cosign maps them. */
export const PREDICATE_TYPES: Readonly<Record<string, string>> = Object.freeze({
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  link: 'https://in-toto.io/Link/v1',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
});

/** The short names shown in help and errors (aliases left out). */
export const PREDICATE_SHORT_NAMES: readonly string[] = [
  'slsaprovenance',
  'slsaprovenance1',
  'spdxjson',
  'cyclonedx',
  'link',
  'vuln',
  'openvex',
  'custom',
];

const URI = /^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]+$/;

/** A short name or a URI → the predicate type URI; undefined when it is neither. */
export function predicateTypeUri(value: string): string | undefined {
  if (Object.hasOwn(PREDICATE_TYPES, value)) return PREDICATE_TYPES[value];
  return URI.test(value) ? value : undefined;
}
