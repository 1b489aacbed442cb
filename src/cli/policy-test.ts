// `sigward policy test`: judge images, workload manifests or AdmissionReviews with policy files, through
// the webhook's own engine (policy-test-engine.ts), before the policies reach a cluster. Three ways in:
//   ad hoc         sigward policy test -p policies/ --image REF --resource deploy.yaml --review r.json
//   test cases     sigward policy test tests/          (sigward-test.yaml files: kyverno test's idea)
//   impact preview sigward policy test -p new-policy.yaml --cluster   (the running Pods, read-only)
// Exit codes for CI: 0 everything admitted (or every case as expected), 1 a denial (or a case not as
// expected), 2 the command cannot run as given: usage, unreadable input, a policy that does not compile.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { parseArgs } from 'node:util';
import { SigwardError, describeError } from '../errors.ts';
import { anonymousKeychain, combineKeychains } from '../oci/index.ts';
import type { CompiledResource } from '../kube/index.ts';
import { CLOUD_CREDENTIALS_USAGE, cloudKeychain } from './cloud-credentials.ts';
import { dockerConfigFileKeychainFor } from './program-credentials.ts';
import { startTestEngine } from './policy-test-engine.ts';
import type { TestEngine, TestEngineOptions } from './policy-test-engine.ts';
import { fileInputs, imageInput, readTestSuite } from './policy-test-inputs.ts';
import type { TestInput, TestSuite } from './policy-test-inputs.ts';
import { admitted, meets, outcomeOf, renderOutcome } from './policy-test-output.ts';
import type { InputOutcome } from './policy-test-output.ts';
import { UsageError } from './usage-error.ts';
import { parseCommandLine, stdio, type Command, type Output } from './command-line.ts';

export const policyTestUsage = `Usage: sigward policy test [options] [TEST_FILE|DIR ...]

Judge images and workloads with policy files through the webhook's own engine (real registries).

Policies and inputs:
  -p, --policy FILE|DIR      policy files: sigward's kinds and policy-controller ClusterImagePolicies (repeatable)
  --image IMAGE              a Pod running IMAGE (repeatable)
  --resource FILE            the workloads in a manifest file, multi-document YAML or a List (repeatable)
  --review FILE              an AdmissionReview, JSON or YAML (repeatable)
  --namespace NS             namespace of --image and of manifests without one (default "default");
                             with --cluster: only this namespace
Test cases:
  TEST_FILE|DIR              sigward-test.yaml files (kind PolicyTest), or directories searched for them
Impact preview (read-only; needs list pods and namespaces):
  --cluster                  judge the running Pods of the cluster, grouped by their owner
  --kubeconfig FILE          the cluster (default $KUBECONFIG, else ~/.kube/config)
  --webhook-namespace NS     sigward's own namespace, never checked (default sigward)
  --scope opt-out|opt-in     the webhook's namespace scope (default opt-out)
Trust and registries:
  --trusted-root FILE        trusted_root.json meant by TrustRoot public-good (default: public-good via TUF)
  --allow-insecure-registry HOST   plain HTTP to this registry (loopback always may), repeatable
  ${CLOUD_CREDENTIALS_USAGE}
  Registry credentials come from $DOCKER_CONFIG/config.json or ~/.docker/config.json.
Evaluation (as the webhook's flags):
  --no-match-action allow|warn|deny   images no policy matches (default deny)
  --failure-outcome deny|allow        registry errors, timeouts, trust-root errors (default deny)
  --timeout-seconds N        budget per input (default 30)
Output:
  --output text|json

Exit: 0 all admitted / every case as expected; 1 a denial / a case not as expected;
      2 usage, unreadable input, or a policy that does not compile (printed with its field paths).
`;

const options = {
  policy: { type: 'string', short: 'p', multiple: true },
  image: { type: 'string', multiple: true },
  resource: { type: 'string', multiple: true },
  review: { type: 'string', multiple: true },
  namespace: { type: 'string' },
  cluster: { type: 'boolean' },
  kubeconfig: { type: 'string' },
  'webhook-namespace': { type: 'string' },
  scope: { type: 'string', default: 'opt-out' },
  'trusted-root': { type: 'string' },
  'allow-insecure-registry': { type: 'string', multiple: true },
  'cloud-credentials': { type: 'string' },
  'no-match-action': { type: 'string', default: 'deny' },
  'failure-outcome': { type: 'string', default: 'deny' },
  'timeout-seconds': { type: 'string', default: '30' },
  output: { type: 'string', default: 'text' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

const policyTest: Command = { name: 'sigward policy test', usage: policyTestUsage, usageExit: 2 };

/** One group of inputs judged with one set of policies: a test file, or the command line. */
interface Run {
  readonly name: string;
  readonly policies: readonly string[];
  readonly trustedRoot?: string;
  readonly unmatched: 'allow' | 'warn' | 'deny';
  readonly cases: readonly {
    readonly name?: string;
    readonly inputs: readonly TestInput[];
    readonly expect?: TestSuite['cases'][number]['expect'];
  }[];
}

interface RunReport {
  readonly name: string;
  readonly policies: readonly {
    kind: string;
    name: string;
    errors: CompiledResource['errors'];
    warnings: NonNullable<CompiledResource['warnings']>;
  }[];
  readonly warnings: readonly string[];
  readonly cases: readonly {
    name?: string;
    outcomes: readonly InputOutcome[];
    expect?: unknown;
    passed?: boolean;
    why?: string;
  }[];
}

export async function runPolicyTest(
  argv: readonly string[],
  io: Output = stdio,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const line = parseCommandLine(argv, options, policyTest, io);
  if (typeof line === 'number') return line;
  const { values, positionals } = line;
  let runs: Run[];
  let settings: ReturnType<typeof settingsFrom>;
  try {
    settings = settingsFrom(values);
    runs = values.cluster === true ? [] : planRuns(values, positionals);
  } catch (error) {
    // The usage text helps with a wrong command line, not with a malformed or unreadable file.
    const usage = error instanceof UsageError ? `\n${policyTestUsage}` : '';
    io.err(`sigward policy test: ${describeError(error)}\n${usage}`);
    return error instanceof UsageError || error instanceof SigwardError ? 2 : 1;
  }
  const json = values.output === 'json';
  const reports: RunReport[] = [];
  try {
    const keychain = combineKeychains(
      dockerConfigFileKeychainFor(undefined, env) ?? anonymousKeychain,
      cloudKeychain(values['cloud-credentials']),
    );
    const base = {
      keychain,
      env,
      failureOutcome: settings.failureOutcome,
      deadlineMs: settings.deadlineMs,
      insecureRegistries: values['allow-insecure-registry'] ?? [],
      warn: (t: string) => io.err(`sigward policy test: warning: ${t}\n`),
    };
    if (values.cluster === true) {
      const { clusterRun } = await import('./policy-test-cluster.ts');
      const report = await clusterRun(values, positionals, base, settings.unmatched, startAndRun);
      reports.push(report);
    } else {
      for (const run of runs) {
        const report = await startAndRun(
          {
            ...base,
            policies: run.policies,
            unmatched: run.unmatched,
            ...(values['trusted-root'] !== undefined
              ? { trustedRootFile: values['trusted-root'] }
              : run.trustedRoot === undefined
                ? {}
                : { trustedRootFile: run.trustedRoot }),
          },
          run,
        );
        reports.push(report);
      }
    }
  } catch (error) {
    io.err(`sigward policy test: ${describeError(error)}\n`);
    return 2;
  }
  const invalid = reports.some((r) => r.policies.some((p) => p.errors.length > 0));
  const failed = reports.some((r) =>
    r.cases.some((c) => (c.passed === undefined ? !c.outcomes.every(admitted) : !c.passed)),
  );
  if (json) io.out(`${JSON.stringify({ runs: reports, invalidPolicies: invalid, failed }, null, 2)}\n`);
  else for (const r of reports) io.out(renderRun(r));
  return invalid ? 2 : failed ? 1 : 0;
}

/** Starts an engine for the run's policies, judges every case, stops it. */
async function startAndRun(
  options: TestEngineOptions,
  run?: Pick<Run, 'name' | 'cases'>,
): Promise<RunReport> {
  const warnings: string[] = [];
  const engine = await startTestEngine({
    ...options,
    warn: (t) => {
      warnings.push(t);
      options.warn(t);
    },
  });
  try {
    return await judge(engine, run ?? { name: 'cluster', cases: [] }, warnings);
  } finally {
    await engine.close();
  }
}

export async function judge(
  engine: TestEngine,
  run: Pick<Run, 'name' | 'cases'>,
  warnings: readonly string[],
): Promise<RunReport> {
  const policies = engine.snapshot.resources
    .filter((r) => r.kind !== 'TrustRoot' || r.errors.length > 0)
    .map((r) => ({
      kind: r.apiGroup === undefined ? r.kind : `${r.kind}.${r.apiGroup}`,
      name: r.namespace === undefined ? r.name : `${r.namespace}/${r.name}`,
      errors: r.errors,
      warnings: r.warnings ?? [],
    }));
  const cases = [];
  for (const c of run.cases) {
    const outcomes: InputOutcome[] = [];
    for (const input of c.inputs)
      outcomes.push(
        outcomeOf(
          input.label,
          input.review === undefined ? undefined : await engine.review(input.review),
          input.note,
        ),
      );
    if (c.expect === undefined) cases.push({ outcomes });
    else {
      const verdict = meets(outcomes, c.expect);
      cases.push({
        ...(c.name === undefined ? {} : { name: c.name }),
        outcomes,
        expect: c.expect,
        passed: verdict.ok,
        ...(verdict.why === undefined ? {} : { why: verdict.why }),
      });
    }
  }
  return { name: run.name, policies, warnings, cases };
}

function settingsFrom(values: Values) {
  const unmatched = values['no-match-action'];
  if (unmatched !== 'allow' && unmatched !== 'warn' && unmatched !== 'deny')
    throw new UsageError('--no-match-action is allow, warn or deny');
  const failureOutcome = values['failure-outcome'];
  if (failureOutcome !== 'deny' && failureOutcome !== 'allow')
    throw new UsageError('--failure-outcome is deny or allow');
  const seconds = Number(values['timeout-seconds']);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 600)
    throw new UsageError('--timeout-seconds is a whole number from 1 to 600');
  if (values.output !== 'text' && values.output !== 'json') throw new UsageError('--output is text or json');
  if (values.scope !== 'opt-out' && values.scope !== 'opt-in')
    throw new UsageError('--scope is opt-out or opt-in');
  if (
    values.cluster !== true &&
    (values.kubeconfig !== undefined || values['webhook-namespace'] !== undefined)
  )
    throw new UsageError('--kubeconfig and --webhook-namespace go with --cluster');
  return { unmatched, failureOutcome, deadlineMs: seconds * 1000 } as const;
}

/** The command line's policies and inputs, or the test files named. */
function planRuns(values: Values, positionals: readonly string[]): Run[] {
  const adHoc = [values.image, values.resource, values.review].some((v) => v !== undefined && v.length > 0);
  const namespace = values.namespace ?? 'default';
  const unmatched = values['no-match-action'] as Run['unmatched'];
  if (positionals.length > 0) {
    if (adHoc || values.policy !== undefined)
      throw new UsageError('give test files, or --policy with --image/--resource/--review, not both');
    return testFiles(positionals).map((file) => {
      const suite = readTestSuite(file);
      return {
        name: suite.name,
        policies: suite.policies,
        ...(suite.trustedRoot === undefined ? {} : { trustedRoot: suite.trustedRoot }),
        unmatched: suite.noMatchAction ?? unmatched,
        cases: suite.cases,
      };
    });
  }
  if (values.policy === undefined)
    throw new UsageError('give --policy (with inputs), test files, or --cluster');
  if (!adHoc) throw new UsageError('give something to judge: --image, --resource or --review (or --cluster)');
  const inputs: TestInput[] = [
    ...(values.image ?? []).map((image) => imageInput(image, namespace)),
    ...[...(values.resource ?? []), ...(values.review ?? [])].flatMap((f) => fileInputs(f, namespace)),
  ];
  return [
    { name: 'command line', policies: values.policy, unmatched, cases: inputs.map((i) => ({ inputs: [i] })) },
  ];
}

/** Test files as named, and every sigward-test.yaml below a named directory. */
function testFiles(paths: readonly string[]): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 8) return;
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules')
        walk(join(dir, entry.name), depth + 1);
      else if (entry.isFile() && /^sigward-test\.ya?ml$/.test(entry.name)) found.push(join(dir, entry.name));
    }
  };
  for (const path of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      throw new UsageError(`${path}: no such file or directory`);
    }
    if (isDir) walk(path, 0);
    else found.push(path);
  }
  if (found.length === 0) throw new UsageError(`no sigward-test.yaml under ${paths.join(', ')}`);
  return found;
}

function renderRun(r: RunReport): string {
  const lines: string[] = [];
  for (const p of r.policies) {
    for (const e of p.errors)
      lines.push(`INVALID ${p.kind}/${p.name}: ${e.field === '' ? '' : `${e.field}: `}${e.message}`);
    for (const w of p.warnings)
      lines.push(`warning ${p.kind}/${p.name}: ${w.field === '' ? '' : `${w.field}: `}${w.message}`);
  }
  let text = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  let passed = 0;
  let expectations = 0;
  for (const c of r.cases) {
    if (c.passed !== undefined) {
      expectations++;
      if (c.passed) passed++;
      text += `${c.passed ? 'PASS' : 'FAIL'} ${c.name ?? ''}${c.why === undefined ? '' : `\n  ${c.why}`}\n`;
      if (!c.passed) for (const o of c.outcomes) text += indent(renderOutcome(o));
    } else for (const o of c.outcomes) text += renderOutcome(o);
  }
  if (expectations > 0) text += `${r.name}: ${passed} of ${expectations} test(s) passed\n`;
  return text;
}

const indent = (s: string): string =>
  s
    .split('\n')
    .map((l) => (l === '' ? l : `  ${l}`))
    .join('\n');
