// Does a proven certificate identity match what a policy asks for? Pure. Issuer and subject are
// exact strings or regular expressions; regular expressions are ALWAYS anchored (the whole value must
// match) and run with RE2 semantics (re2js: linear time, no backreferences or lookaround), so a policy
// can never turn into a catastrophic-backtracking denial of service. Named Fulcio extensions
// (sigstore identity.ts) can be matched the same way.
import { RE2JS } from 're2js';
import { SigwardError } from '../errors.ts';
import type { CertificateIdentity, FulcioExtensionName } from '../sigstore/identity.ts';

// Policy imports only the types of sigstore/identity (it stays free of the crypto libraries). The
// compiler keeps this list equal to FulcioExtensionName: a missing or extra name is a type error.
const EXTENSION_NAMES: Readonly<Record<FulcioExtensionName, true>> = {
  issuer: true,
  buildSignerURI: true,
  buildSignerDigest: true,
  runnerEnvironment: true,
  sourceRepositoryURI: true,
  sourceRepositoryDigest: true,
  sourceRepositoryRef: true,
  sourceRepositoryIdentifier: true,
  sourceRepositoryOwnerURI: true,
  sourceRepositoryOwnerIdentifier: true,
  buildConfigURI: true,
  buildConfigDigest: true,
  buildTrigger: true,
  runInvocationURI: true,
  sourceRepositoryVisibilityAtSigning: true,
  deploymentEnvironment: true,
  tokenSubject: true,
  issuerV1: true,
  githubWorkflowTrigger: true,
  githubWorkflowSHA: true,
  githubWorkflowName: true,
  githubWorkflowRepository: true,
  githubWorkflowRef: true,
};
const isExtensionName = (name: string): name is FulcioExtensionName => Object.hasOwn(EXTENSION_NAMES, name);

/** One value matcher as written in a policy: exactly one of `exact` or `regexp`. */
export interface ValueMatcherSpec {
  readonly exact?: string;
  readonly regexp?: string;
}

/** A keyless identity as written in a policy (cosign's flags / policy-controller's fields). */
export interface IdentitySpec {
  readonly issuer?: string;
  readonly issuerRegExp?: string;
  readonly subject?: string;
  readonly subjectRegExp?: string;
  /** Named Fulcio extensions, e.g. `{ sourceRepositoryURI: { exact: 'https://github.com/o/r' } }`. */
  readonly extensions?: Readonly<Record<string, ValueMatcherSpec>>;
}

interface ValueMatcher {
  readonly describe: string;
  test(value: string): boolean;
}

export interface IdentityMatcher {
  readonly issuer: ValueMatcher;
  readonly subject: ValueMatcher;
  readonly extensions: ReadonlyArray<readonly [FulcioExtensionName, ValueMatcher]>;
}

export type IdentityMatch = { readonly matched: true } | { readonly matched: false; readonly reason: string };

export const IDENTITY_SPEC_INVALID = 'POLICY_IDENTITY_INVALID';

function specError(field: string, message: string, cause?: unknown): SigwardError {
  return new SigwardError(IDENTITY_SPEC_INVALID, `${field}: ${message}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { field },
  });
}

function exactMatcher(value: string): ValueMatcher {
  return { describe: JSON.stringify(value), test: (v) => v === value };
}

const shorten = (text: string): string => (text.length > 120 ? `${text.slice(0, 120)}…` : text);

function regexpMatcher(pattern: string, field: string): ValueMatcher {
  let re: RE2JS;
  try {
    // The pattern must compile ON ITS OWN first: `x)|(.*` is unbalanced alone but balanced inside
    // ^(?:…)$, where it would become `^(?:x)|(.*)$` and accept anything (an anchoring bypass).
    RE2JS.compile(pattern);
    // matches() is a whole-input match; the explicit ^(?:…)$ keeps it anchored whatever the call.
    re = RE2JS.compile(`^(?:${pattern})$`);
  } catch (cause) {
    // RE2 echoes the expression; a 4 KiB one would bury the reason, so both are shortened.
    const reason = (cause instanceof Error ? cause.message : String(cause)).replace(
      /`([^`]*)`/g,
      (_, text: string) => `\`${shorten(text)}\``,
    );
    throw specError(
      field,
      `invalid regular expression ${JSON.stringify(shorten(pattern))}: ${reason}`,
      cause,
    );
  }
  return { describe: `a value matching /^(?:${pattern})$/`, test: (v) => re.matches(v) };
}

function valueMatcher(
  exact: string | undefined,
  regexp: string | undefined,
  field: string,
  regexpField: string,
): ValueMatcher {
  if (exact !== undefined && regexp !== undefined)
    throw specError(field, `set either ${field} or ${regexpField}, not both`);
  if (exact !== undefined) {
    if (exact === '') throw specError(field, 'must not be empty');
    return exactMatcher(exact);
  }
  if (regexp !== undefined) {
    if (regexp === '') throw specError(regexpField, 'must not be empty');
    return regexpMatcher(regexp, regexpField);
  }
  throw specError(field, `one of ${field} or ${regexpField} is required`);
}

/**
 * Compiles a policy identity. Throws SigwardError POLICY_IDENTITY_INVALID with `details.field` =
 * the path of the bad field (prefixed with `path`, e.g. `spec.authorities[0].keyless.identities[1]`).
 */
export function compileIdentity(spec: IdentitySpec, path = 'identity'): IdentityMatcher {
  const issuer = valueMatcher(spec.issuer, spec.issuerRegExp, `${path}.issuer`, `${path}.issuerRegExp`);
  const subject = valueMatcher(spec.subject, spec.subjectRegExp, `${path}.subject`, `${path}.subjectRegExp`);
  const extensions: Array<readonly [FulcioExtensionName, ValueMatcher]> = [];
  for (const [name, m] of Object.entries(spec.extensions ?? {})) {
    const field = `${path}.extensions.${name}`;
    if (!isExtensionName(name)) throw specError(field, `unknown Fulcio extension "${name}"`);
    extensions.push([name, valueMatcher(m.exact, m.regexp, `${field}.exact`, `${field}.regexp`)]);
  }
  return { issuer, subject, extensions };
}

const shown = (v: string | undefined): string => (v === undefined ? 'none' : JSON.stringify(v));

/** Matches a proven identity; on mismatch says what was expected and what was found. */
export function matchIdentity(matcher: IdentityMatcher, identity: CertificateIdentity): IdentityMatch {
  if (identity.issuer === undefined || !matcher.issuer.test(identity.issuer)) {
    return {
      matched: false,
      reason: `issuer: expected ${matcher.issuer.describe}, found ${shown(identity.issuer)}`,
    };
  }
  if (identity.subject === undefined || !matcher.subject.test(identity.subject)) {
    return {
      matched: false,
      reason: `subject: expected ${matcher.subject.describe}, found ${shown(identity.subject)}`,
    };
  }
  for (const [name, m] of matcher.extensions) {
    const value = identity.extensions[name];
    if (value === undefined || !m.test(value)) {
      return {
        matched: false,
        reason: `certificate extension ${name}: expected ${m.describe}, found ${shown(value)}`,
      };
    }
  }
  return { matched: true };
}
