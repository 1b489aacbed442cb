// CEL conditions of an attestation requirement: compiled and type-checked when the policy compiles
// (a bad one is a field-path error in its status), evaluated against one verified in-toto statement
// under a cost limit. Pure: no I/O, and nothing the condition does can run unbounded.
//
// Two libraries, each for what it does well: @marcbachmann/cel-js type-checks (the only JavaScript CEL
// with a complete checker: @bufbuild/cel 0.6's checks constants and identifiers only and is not
// exported), @bufbuild/cel evaluates (conformance-tested, and `matches` is RE2: linear time, where
// cel-js uses backtracking RegExp on hostile strings). Every function a condition calls must exist in
// the evaluator, checked at compile time, so what type-checked is what runs.
//
// Variables: `predicate` (the statement's predicate, JSON: numbers are doubles), `predicateType`,
// `subject` (the statement's subjects: [{name, digest: {sha256: …}}]), `signer` ({issuer, subject,
// extensions: {sourceRepositoryRef: …}}; empty strings for a key) and `now` (a timestamp).
//
// Cost: every read of a predicate, subject or signer value costs 1, plus 1 per 100 characters of a
// string read; past CONDITION_LIMITS.cost (about 0.5 s of reads) the evaluation stops as an error.
// Nested comprehensions over a big predicate, deep structures and long strings all hit it.
//
// Both libraries load when the first condition compiles, not with the module: most installations have
// no attestation conditions, and loading them costs the webhook ~5 MiB of memory at start (docs/
// performance.md). Synchronous (require of their CommonJS builds), so compiling stays synchronous.
import { createRequire } from 'node:module';
import type * as Cel from '@bufbuild/cel';
import type * as CelExtensions from '@bufbuild/cel/ext';
import type * as Wkt from '@bufbuild/protobuf/wkt';
import type * as CelJs from '@marcbachmann/cel-js';

export const CONDITION_LIMITS = {
  /** Characters of one condition. */
  length: 4096,
  /** Parse-time structure of one condition. */
  astNodes: 1000,
  depth: 32,
  /** Reads (and string characters / 100) one evaluation may spend. */
  cost: 200_000,
  /** Nesting of predicate values a condition may walk into. */
  valueDepth: 128,
  /** Values quoted in a failed condition's message, and characters per value. */
  shownValues: 4,
  valueChars: 120,
} as const;

export interface SignerFacts {
  readonly issuer?: string | undefined;
  readonly subject?: string | undefined;
  readonly extensions?: Readonly<Record<string, string | undefined>>;
}

/** What a condition sees: one verified statement, who signed it, and the time of the decision. */
export interface ConditionInput {
  readonly predicate: unknown;
  readonly predicateType: string;
  readonly subject: readonly { readonly name?: string; readonly digest: Readonly<Record<string, string>> }[];
  readonly signer: SignerFacts;
  readonly now: Date;
}

export type ConditionResult =
  | { readonly holds: true }
  /** `error`: it could not be evaluated (cost limit, a missing field, a wrong type at run time). */
  | { readonly holds: false; readonly error: boolean; readonly message: string };

export interface CompiledCondition {
  readonly expression: string;
  /** It reads `now`: its verdict may change with time alone. */
  readonly usesNow: boolean;
  evaluate(input: ConditionInput): ConditionResult;
}

const VARIABLES = ['predicate', 'predicateType', 'subject', 'signer', 'now'] as const;

interface Libraries {
  readonly cel: typeof Cel;
  readonly timestampFromDate: typeof Wkt.timestampFromDate;
  /** The type checker (cel-js), with the variables declared. */
  readonly checker: CelJs.Environment;
  /** The evaluator's environment (@bufbuild/cel): the variables and the string extensions. */
  readonly env: Cel.CelEnv;
}

let loaded: Libraries | undefined;

function libraries(): Libraries {
  if (loaded !== undefined) return loaded;
  const load = createRequire(import.meta.url);
  const cel = load('@bufbuild/cel') as typeof Cel;
  const { strings } = load('@bufbuild/cel/ext') as typeof CelExtensions;
  const { Environment } = load('@marcbachmann/cel-js') as typeof CelJs;
  const checker = new Environment({
    limits: {
      maxAstNodes: CONDITION_LIMITS.astNodes,
      maxDepth: CONDITION_LIMITS.depth,
      maxListElements: 256,
      maxMapEntries: 256,
      maxCallArguments: 16,
    },
  })
    .registerVariable('predicate', 'dyn')
    .registerVariable('predicateType', 'string')
    .registerVariable('subject', 'list<map<string, dyn>>')
    .registerVariable({
      name: 'signer',
      schema: { issuer: 'string', subject: 'string', extensions: 'map<string, string>' },
    })
    .registerVariable('now', 'google.protobuf.Timestamp');
  const env = cel.celEnv({
    variables: {
      predicate: cel.CelScalar.DYN,
      predicateType: cel.CelScalar.STRING,
      subject: cel.CelScalar.DYN,
      signer: cel.CelScalar.DYN,
      now: cel.CelScalar.DYN,
    },
    funcs: strings,
  });
  const { timestampFromDate } = load('@bufbuild/protobuf/wkt') as typeof Wkt;
  return (loaded = { cel, timestampFromDate, checker, env });
}

type Expr = ReturnType<typeof Cel.parse>['expr'];

class CostExceeded extends Error {}

/** Counts reads; throws CostExceeded (which the evaluator turns into an error value) past the limit. */
class Meter {
  spent = 0;
  exceeded = false;
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  charge(units: number): void {
    this.spent += units;
    if (this.spent > this.limit) {
      this.exceeded = true;
      throw new CostExceeded(`the condition exceeded its cost limit of ${this.limit}`);
    }
  }
}

/** A read-counting view of a JSON-like value: objects and arrays are wrapped lazily on each read. */
function metered(value: unknown, meter: Meter, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth > CONDITION_LIMITS.valueDepth) {
    meter.exceeded = true;
    throw new CostExceeded(`the value is nested deeper than ${CONDITION_LIMITS.valueDepth} levels`);
  }
  return new Proxy(value, {
    // Iterating a map's keys costs one per key, so nested comprehensions over a wide map are bounded too.
    ownKeys(target) {
      const keys = Reflect.ownKeys(target);
      meter.charge(keys.length);
      return keys;
    },
    has(target, key) {
      meter.charge(1);
      return Reflect.has(target, key);
    },
    get(target, key, receiver) {
      const v: unknown = Reflect.get(target, key, receiver);
      meter.charge(typeof v === 'string' ? 1 + Math.floor(v.length / 100) : 1);
      return typeof v === 'object' && v !== null ? metered(v, meter, depth + 1) : v;
    },
  });
}

/** A field path rooted in a variable (`predicate.buildDefinition.buildType`), as segments. */
type Path = readonly (string | number)[];

function pathOf(expr: Expr | undefined): Path | undefined {
  const kind = expr?.exprKind;
  if (kind === undefined) return undefined;
  if (kind.case === 'identExpr')
    return (VARIABLES as readonly string[]).includes(kind.value.name) ? [kind.value.name] : undefined;
  if (kind.case === 'selectExpr' && !kind.value.testOnly) {
    const base = pathOf(kind.value.operand);
    return base === undefined ? undefined : [...base, kind.value.field];
  }
  if (kind.case === 'callExpr' && kind.value.function === '_[_]' && kind.value.args.length === 2) {
    const base = pathOf(kind.value.args[0]);
    const index = kind.value.args[1]?.exprKind;
    if (base === undefined || index?.case !== 'constExpr') return undefined;
    const c = index.value.constantKind;
    if (c.case === 'stringValue') return [...base, c.value];
    if (c.case === 'int64Value') return [...base, Number(c.value)];
  }
  return undefined;
}

function children(expr: Expr): Expr[] {
  const k = expr.exprKind;
  switch (k.case) {
    case 'selectExpr':
      return k.value.operand ? [k.value.operand] : [];
    case 'callExpr':
      return [...(k.value.target ? [k.value.target] : []), ...k.value.args];
    case 'listExpr':
      return k.value.elements;
    case 'structExpr':
      return k.value.entries.flatMap((e) => [
        ...(e.keyKind.case === 'mapKey' ? [e.keyKind.value] : []),
        ...(e.value ? [e.value] : []),
      ]);
    case 'comprehensionExpr': {
      const c = k.value;
      return [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result].filter(
        (e): e is Expr => e !== undefined,
      );
    }
    default:
      return [];
  }
}

/** Every variable-rooted field path (outermost only) and every function name the condition uses. */
function survey(root: Expr): { paths: Path[]; functions: Set<string>; idents: Set<string> } {
  const paths: Path[] = [];
  const seen = new Set<string>();
  const functions = new Set<string>();
  const idents = new Set<string>();
  const walk = (expr: Expr): void => {
    const path = pathOf(expr);
    if (path !== undefined) {
      idents.add(String(path[0]));
      const key = JSON.stringify(path);
      if (!seen.has(key)) {
        seen.add(key);
        paths.push(path);
      }
      return;
    }
    if (expr.exprKind.case === 'identExpr') idents.add(expr.exprKind.value.name);
    if (expr.exprKind.case === 'callExpr') functions.add(expr.exprKind.value.function);
    for (const child of children(expr)) walk(child);
  };
  walk(root);
  return { paths, functions, idents };
}

function pathText(path: Path): string {
  return path
    .map((s, i) =>
      i === 0
        ? String(s)
        : typeof s === 'number'
          ? `[${s}]`
          : /^[A-Za-z_]\w*$/.test(s)
            ? `.${s}`
            : `[${JSON.stringify(s)}]`,
    )
    .join('');
}

/** The value at `path` in plain JS (no CEL), for messages: `undefined` when absent. */
function valueAt(bindings: Record<string, unknown>, path: Path): unknown {
  let v: unknown = bindings[String(path[0])];
  for (const segment of path.slice(1)) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = Object.hasOwn(v, segment) ? (v as Record<string | number, unknown>)[segment] : undefined;
  }
  return v;
}

function show(value: unknown): string {
  let text: string;
  if (value === undefined) text = '(absent)';
  else if (value instanceof Date) text = value.toISOString();
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = '(unprintable)';
    }
  }
  return text.length > CONDITION_LIMITS.valueChars
    ? `${text.slice(0, CONDITION_LIMITS.valueChars - 1)}…`
    : text;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).trim();
}

/** Compiles and type-checks one condition; a string is the error, in words fit for a status. */
export function compileCondition(expression: string): CompiledCondition | string {
  if (expression.length > CONDITION_LIMITS.length)
    return `must be at most ${CONDITION_LIMITS.length} characters`;
  const { cel, timestampFromDate, checker, env } = libraries();
  let checked: { valid: boolean; type?: string; error?: { message: string } };
  try {
    checked = checker.check(expression) as typeof checked;
  } catch (error) {
    return `does not compile: ${firstLine(error instanceof Error ? error.message : String(error))}`;
  }
  if (!checked.valid) return `does not compile: ${firstLine(checked.error?.message ?? 'invalid')}`;
  if (checked.type !== 'bool' && checked.type !== 'dyn')
    return `must be a bool expression, but it is of type ${checked.type ?? 'unknown'}`;
  let parsed: ReturnType<typeof cel.parse>;
  try {
    parsed = cel.parse(expression);
  } catch (error) {
    return `does not compile: ${firstLine(error instanceof Error ? error.message : String(error))}`;
  }
  const { paths, functions, idents } = survey(parsed.expr);
  for (const name of functions) {
    // Operators (`_&&_`, `@in`, …) are the planner's own; named functions must exist in the evaluator.
    if (name.startsWith('_') || name.startsWith('@')) continue;
    if (env.funcs.find(name) === undefined)
      return `does not compile: the function ${name}() is not available (CEL standard library and string extensions only)`;
  }
  const run = cel.plan(env, parsed) as (bindings: Record<string, unknown>) => unknown;
  const usesNow = idents.has('now');
  return {
    expression,
    usesNow,
    evaluate(input: ConditionInput): ConditionResult {
      const plain: Record<string, unknown> = {
        predicate: input.predicate,
        predicateType: input.predicateType,
        subject: input.subject,
        signer: {
          issuer: input.signer.issuer ?? '',
          subject: input.signer.subject ?? '',
          extensions: Object.fromEntries(
            Object.entries(input.signer.extensions ?? {}).filter(([, v]) => v !== undefined),
          ),
        },
        now: input.now,
      };
      const meter = new Meter(CONDITION_LIMITS.cost);
      let result: unknown;
      try {
        result = run({
          predicate: metered(plain.predicate, meter),
          predicateType: input.predicateType,
          subject: metered(plain.subject, meter),
          signer: metered(plain.signer, meter),
          now: timestampFromDate(input.now),
        });
      } catch (error) {
        // The evaluator turns most throws into error values; anything else still fails closed.
        result = error;
      }
      if (result === true) return { holds: true };
      const seen = paths
        .slice(0, CONDITION_LIMITS.shownValues)
        .map((p) => `${pathText(p)} = ${show(valueAt(plain, p))}`)
        .join(', ');
      const saw = seen === '' ? '' : `; it saw ${seen}`;
      if (meter.exceeded)
        return {
          holds: false,
          error: true,
          message: `could not be evaluated: it exceeded the cost limit (${CONDITION_LIMITS.cost} reads, or values nested over ${CONDITION_LIMITS.valueDepth} deep)${saw}`,
        };
      if (result === false) return { holds: false, error: false, message: `is false${saw}` };
      const why =
        cel.isCelError(result) || result instanceof Error
          ? firstLine(result.message)
          : `it gave ${show(result)}, not a bool`;
      return { holds: false, error: true, message: `could not be evaluated: ${why}${saw}` };
    },
  };
}
