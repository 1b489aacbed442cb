// cosign's keyless identity flags, defined once for every command that checks who signed (`sigward
// verify`, `sigward verify-bundle`): their parseArgs options, their usage lines, and the identity
// check they describe, compiled by policy/identity.ts exactly as a policy's identities are.
import type { ParseArgsOptionDescriptor } from 'node:util';
import { SigwardError } from '../errors.ts';
import { compileIdentity, matchIdentity } from '../policy/identity.ts';
import type { IdentityMatcher, IdentitySpec, ValueMatcherSpec } from '../policy/identity.ts';
import type { CertificateIdentity } from '../sigstore/identity.ts';
import type { IdentityOutcome } from '../sigstore/verify-image.ts';
import { UsageError } from './usage-error.ts';

export const identityOptions = {
  'certificate-identity': { type: 'string' },
  'certificate-identity-regexp': { type: 'string' },
  'certificate-oidc-issuer': { type: 'string' },
  'certificate-oidc-issuer-regexp': { type: 'string' },
  'certificate-github-workflow-trigger': { type: 'string' },
  'certificate-github-workflow-sha': { type: 'string' },
  'certificate-github-workflow-name': { type: 'string' },
  'certificate-github-workflow-repository': { type: 'string' },
  'certificate-github-workflow-ref': { type: 'string' },
  'certificate-extension': { type: 'string', multiple: true },
} as const satisfies Record<string, ParseArgsOptionDescriptor>;

/** The usage lines of the identity flags (both required: a subject and an issuer, exact or regexp). */
export const identityUsage = `  --certificate-identity ID | --certificate-identity-regexp RE
  --certificate-oidc-issuer URL | --certificate-oidc-issuer-regexp RE
  --certificate-github-workflow-{trigger,sha,name,repository,ref} VALUE
  --certificate-extension NAME=VALUE   a named Fulcio extension (e.g. sourceRepositoryURI), repeatable
`;

/** The identity flags as parseArgs returns them. */
export type IdentityValues = {
  readonly [K in keyof typeof identityOptions]?: (typeof identityOptions)[K] extends { multiple: true }
    ? string[]
    : string;
};

const workflowFlags = {
  'certificate-github-workflow-trigger': 'githubWorkflowTrigger',
  'certificate-github-workflow-sha': 'githubWorkflowSHA',
  'certificate-github-workflow-name': 'githubWorkflowName',
  'certificate-github-workflow-repository': 'githubWorkflowRepository',
  'certificate-github-workflow-ref': 'githubWorkflowRef',
} as const;

/** Whether any identity flag was given (keyless verification asked for). */
export function hasIdentityFlags(values: IdentityValues): boolean {
  return Object.keys(identityOptions).some((k) => values[k as keyof IdentityValues] !== undefined);
}

function identitySpec(values: IdentityValues): IdentitySpec {
  const extensions: Record<string, ValueMatcherSpec> = {};
  for (const pair of values['certificate-extension'] ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--certificate-extension wants NAME=VALUE, got "${pair}"`);
    extensions[pair.slice(0, eq)] = { exact: pair.slice(eq + 1) };
  }
  for (const [flag, name] of Object.entries(workflowFlags)) {
    const value = values[flag as keyof typeof workflowFlags];
    if (value !== undefined) extensions[name] = { exact: value };
  }
  const spec: Record<string, unknown> = { extensions };
  const set = (key: string, value: string | undefined): void => {
    if (value !== undefined) spec[key] = value;
  };
  set('subject', values['certificate-identity']);
  set('subjectRegExp', values['certificate-identity-regexp']);
  set('issuer', values['certificate-oidc-issuer']);
  set('issuerRegExp', values['certificate-oidc-issuer-regexp']);
  return spec as IdentitySpec;
}

const flagOfField: readonly [RegExp, string][] = [
  [/flags\.subjectRegExp/g, '--certificate-identity-regexp'],
  [/flags\.subject/g, '--certificate-identity'],
  [/flags\.issuerRegExp/g, '--certificate-oidc-issuer-regexp'],
  [/flags\.issuer/g, '--certificate-oidc-issuer'],
  [/flags\.extensions\.(\w+)\.(exact|regexp)/g, '--certificate-extension $1'],
  [/flags\.extensions\.(\w+)/g, '--certificate-extension $1'],
];

/** The identity flags compiled; a bad value is a UsageError that names the flag, not a policy field. */
export function identityMatcher(values: IdentityValues): IdentityMatcher {
  try {
    return compileIdentity(identitySpec(values), 'flags');
  } catch (error) {
    if (!(error instanceof SigwardError)) throw error;
    throw new UsageError(flagOfField.reduce((m, [field, flag]) => m.replace(field, flag), error.message));
  }
}

/** The policy matcher, with a reason code per field that did not match. */
export function identityCheck(matcher: IdentityMatcher): (identity: CertificateIdentity) => IdentityOutcome {
  return (identity) => {
    const match = matchIdentity(matcher, identity);
    if (match.matched) return match;
    const issuerOk = identity.issuer !== undefined && matcher.issuer.test(identity.issuer);
    const subjectOk = identity.subject !== undefined && matcher.subject.test(identity.subject);
    const code = !issuerOk
      ? 'IDENTITY_ISSUER_MISMATCH'
      : !subjectOk
        ? 'IDENTITY_SUBJECT_MISMATCH'
        : 'IDENTITY_EXTENSION_MISMATCH';
    return { matched: false, code, reason: match.reason };
  };
}
