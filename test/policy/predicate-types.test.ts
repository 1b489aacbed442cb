// A policy's `attestations[].predicateType`, `sigward attest --type` and `verify-attestation --type`
// take every short name cosign's --type takes (cosign attest --help: slsaprovenance|slsaprovenance02|
// slsaprovenance1|link|spdx|spdxjson|cyclonedx|vuln|openvex|custom), mapped to the same URIs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PREDICATE_SHORT_NAMES, predicateTypeUri } from '../../src/policy/predicate-types.ts';

const COSIGN: Readonly<Record<string, string>> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  link: 'https://in-toto.io/Link/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

test("every cosign --type short name maps to cosign's URI; a URI is taken as is; anything else is refused", () => {
  for (const [name, uri] of Object.entries(COSIGN)) assert.equal(predicateTypeUri(name), uri, name);
  for (const name of PREDICATE_SHORT_NAMES) assert.ok(name in COSIGN, `${name} is one of cosign's`);
  assert.equal(predicateTypeUri('https://example.com/p/v1'), 'https://example.com/p/v1');
  assert.equal(predicateTypeUri('sbom'), undefined);
});
