// `sigward convert`: policy-controller ClusterImagePolicies (policy.sigstore.dev v1alpha1/v1beta1) as
// sigward ClusterImagePolicies, with the same translation the webhook applies when it reads them as-is
// (policy/policy-controller.ts). Every difference is a comment on the policy it concerns. A policy
// with a field sigward cannot honour is written COMMENTED OUT with the reasons: applying the output
// can never install a policy weaker than the one it replaces.
// Exit: 0 every policy converted (warnings allowed), 1 some could not be, 2 usage, unreadable input, or
// no policy.sigstore.dev resource in the input (nothing converted is not a success).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describeError } from '../errors.ts';
import {
  compilePolicyControllerPolicy,
  isPolicyControllerResource,
  translatePolicyControllerPolicy,
} from '../policy/policy-controller.ts';
import { readDocuments } from './policy-test-inputs.ts';
import { parseCommandLine, stdio, type Command, type Output } from './command-line.ts';

export const convertUsage = `Usage: sigward convert [--output yaml|json] FILE|DIR|- ...

  e.g. kubectl get clusterimagepolicies.policy.sigstore.dev -o yaml | sigward convert -

Writes policy-controller ClusterImagePolicies (policy.sigstore.dev) as sigward ClusterImagePolicies
(policy.sigward.dev/v1alpha1) on stdout, every difference as a comment. A policy using a field sigward
cannot honour (attestations, CUE/Rego policies, KMS keys, static authorities, …) is written commented
out with the reasons, so the output never weakens a policy. Other documents are left out (listed on stderr).

Exit: 0 all converted, 1 some could not be, 2 usage, unreadable input, or nothing to convert (no
policy.sigstore.dev resource in the input; sigward's own policies need no conversion).
`;

const convert: Command = { name: 'sigward convert', usage: convertUsage, usageExit: 2 };
const options = {
  output: { type: 'string', default: 'yaml' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Converted {
  readonly source: string;
  readonly name: string;
  readonly converted: boolean;
  readonly policy: unknown;
  readonly errors: readonly { field: string; message: string }[];
  readonly warnings: readonly { field: string; message: string }[];
}

export async function runConvert(argv: readonly string[], io: Output = stdio): Promise<number> {
  const line = parseCommandLine(argv, options, convert, io);
  if (typeof line === 'number') return line;
  const { values, positionals } = line;
  if (positionals.length === 0 || (values.output !== 'yaml' && values.output !== 'json')) {
    io.err(`sigward convert: give FILE|DIR, and --output yaml or json\n\n${convertUsage}`);
    return 2;
  }
  const results: Converted[] = [];
  let skipped = 0;
  let sigwardPolicies = 0;
  try {
    for (const file of files(positionals))
      for (const doc of readDocuments(file)) {
        if (!isPolicyControllerResource(doc)) {
          io.err(`sigward convert: ${file}: skipped a document that is not a policy.sigstore.dev resource\n`);
          skipped++;
          if (isSigwardResource(doc)) sigwardPolicies++;
          continue;
        }
        results.push(convertOne(file, doc));
      }
  } catch (error) {
    io.err(`sigward convert: ${describeError(error)}\n`);
    return 2;
  }
  // Nothing converted is not success: the input was not what convert reads (2, like unreadable input).
  if (results.length === 0) {
    const why =
      sigwardPolicies > 0
        ? `${sigwardPolicies} of the ${skipped} document(s) are already sigward resources (policy.sigward.dev): apply them as they are`
        : `${skipped} document(s) read, none of them a policy-controller ClusterImagePolicy`;
    io.err(`sigward convert: nothing to convert: no policy.sigstore.dev resource in the input (${why})\n`);
    return 2;
  }
  if (values.output === 'json') io.out(`${JSON.stringify(results, null, 2)}\n`);
  else io.out(results.map(renderYaml).join('---\n'));
  for (const r of results)
    if (!r.converted)
      io.err(
        `sigward convert: ${r.source}: ${r.name} NOT converted (${r.errors.length} field(s) sigward cannot honour)\n`,
      );
  return results.every((r) => r.converted) ? 0 : 1;
}

function isSigwardResource(doc: unknown): boolean {
  const apiVersion = (doc as { apiVersion?: unknown } | null)?.apiVersion;
  return typeof apiVersion === 'string' && apiVersion.startsWith('policy.sigward.dev/');
}

function convertOne(source: string, doc: unknown): Converted {
  const { policy: translated } = translatePolicyControllerPolicy(doc);
  const { errors, warnings } = compilePolicyControllerPolicy(doc);
  // A new object to apply: the original's uid and generation belong to the policy-controller object.
  const { name = '', annotations } = translated.metadata;
  const policy = { ...translated, metadata: { name, annotations } };
  return { source, name, converted: errors.length === 0, policy, errors, warnings };
}

function renderYaml(r: Converted): string {
  const note = (kind: string, items: Converted['errors']): string[] =>
    items.map((e) => `# ${kind} ${e.field === '' ? '' : `${e.field}: `}${e.message}`.replace(/\n/g, ' '));
  const head = [`# sigward convert: ${r.source}`, ...note('error', r.errors), ...note('warning', r.warnings)];
  const body = stringify(r.policy, { lineWidth: 0 });
  if (r.converted) return `${head.join('\n')}\n${body}`;
  return [
    `# NOT CONVERTED: ${r.name} uses what sigward cannot honour; fix the errors below, then uncomment.`,
    ...head,
    ...body
      .trimEnd()
      .split('\n')
      .map((l) => `# ${l}`),
    '',
  ].join('\n');
}

function files(paths: readonly string[]): string[] {
  return paths.flatMap((p) =>
    p !== '-' && statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => /\.(ya?ml|json)$/.test(f))
          .sort()
          .map((f) => join(p, f))
      : [p],
  );
}
