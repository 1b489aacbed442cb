// The admission line's writer (lineWriter): the same bytes as pino's own call for the same logger and
// fields, hostile text included; pino's call itself whenever the logger has something that could change
// a line (mixin, formatter, hooks, redaction or a serializer on one of the keys).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { Logger, LoggerOptions } from 'pino';
import { createLogger, lineWriter } from '../../src/telemetry/logger.ts';
import type { LineLevel, LineValue } from '../../src/telemetry/logger.ts';

const KEYS = ['route', 'decision', 'uid', 'user', 'object', 'reasons', 'ms', 'summary'] as const;
type Fields = Partial<Record<(typeof KEYS)[number], LineValue>>;

/** A sink keeping every written chunk, and a fixed clock so two lines written apart compare equal. */
function sink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { stream, lines };
}

/** The line pino writes for `fields` and the line the writer writes, with the clock stopped. */
function both(
  make: (destination: Writable) => Logger,
  fields: Fields,
  level: LineLevel = 'info',
): { pino: string; writer: string } {
  const originalNow = Date.now;
  Date.now = () => 1_765_000_000_123;
  try {
    const a = sink();
    const b = sink();
    const byPino = make(a.stream);
    const line: Record<string, LineValue> = {};
    for (const key of KEYS) if (fields[key] !== undefined) line[key] = fields[key];
    byPino[level](line, 'admission');
    byPino.flush();
    const writer = lineWriter(make(b.stream), KEYS, 'admission');
    for (const key of KEYS) writer.fields[key] = fields[key];
    writer.write(level);
    return { pino: a.lines.join(''), writer: b.lines.join('') };
  } finally {
    Date.now = originalNow;
  }
}

const admissionLogger = (destination: Writable): Logger =>
  createLogger({ destination, level: 'debug' }).child({ component: 'admission' }, { redact: { paths: [] } });

const HOSTILE: Fields[] = [
  { route: 'validate', decision: 'allow', uid: '705ab4f5-6393-11e8-b7cc-42010a800002', ms: 0.3 },
  {
    route: 'validate',
    decision: 'deny',
    uid: 'u',
    user: 'system:serviceaccount:apps:release',
    object: 'apps/web',
    reasons: ['SIGNATURE_MISSING', 'NO_POLICY'],
    ms: 12.5,
    summary: 'image "x" in spec.containers[0].image: policy p: expected … [SIGNATURE_MISSING]',
  },
  {
    route: 'mutate',
    decision: 'pin',
    user: 'quote " backslash \\ slash / tab \t newline \n nul \u0000 bell \u0007',
  },
  { route: 'validate', decision: 'warn', summary: `long ${'x"\\'.repeat(200)} text`, reasons: [] },
  { route: 'validate', decision: 'deny', object: 'ns/ünïcödé-名前-🚀', user: '\u2028\u2029\u007f', ms: 0 },
  { route: 'validate', decision: 'allow', ms: Number.NaN },
  { route: 'validate', decision: 'allow', ms: Number.POSITIVE_INFINITY },
  { route: 'validate', decision: 'allow', ms: -1.5e-7 },
  { route: 'validate', decision: 'skip' },
  { route: 'validate', decision: 'deny', reasons: ['with "quote"', 'with \\', 'ctl \u0001'] },
];

describe('lineWriter', () => {
  test('writes what pino writes, byte for byte, for ordinary and hostile values', () => {
    for (const fields of HOSTILE) {
      const { pino: expected, writer } = both(admissionLogger, fields);
      assert.equal(writer, expected);
      assert.ok(expected.endsWith('"msg":"admission"}\n'), expected);
      JSON.parse(writer);
    }
  });

  test('one writer, line after line: values repeated, changed and changed back each written as pino writes them', () => {
    const originalNow = Date.now;
    Date.now = () => 1_765_000_000_123;
    try {
      const a = sink();
      const b = sink();
      const byPino = admissionLogger(a.stream);
      const writer = lineWriter(admissionLogger(b.stream), KEYS, 'admission');
      // Each set twice in a row, the list forwards then backwards: every field repeats, changes, returns.
      const sequence = [...HOSTILE, ...[...HOSTILE].reverse()].flatMap((f) => [f, f]);
      for (const fields of sequence) {
        const line: Record<string, LineValue> = {};
        for (const key of KEYS) if (fields[key] !== undefined) line[key] = fields[key];
        byPino.info(line, 'admission');
        for (const key of KEYS) writer.fields[key] = fields[key];
        writer.write('info');
      }
      byPino.flush();
      const expected = a.lines.join('').split('\n');
      assert.equal(expected.length, sequence.length + 1);
      assert.deepEqual(b.lines.join('').split('\n'), expected);
    } finally {
      Date.now = originalNow;
    }
  });

  test('leaves out undefined fields and keeps the order of the keys whatever order they were set in', () => {
    const { lines, stream } = sink();
    const writer = lineWriter(admissionLogger(stream), KEYS, 'admission');
    writer.fields.summary = 'last';
    writer.fields.route = 'validate';
    writer.fields.uid = undefined;
    writer.fields.ms = 1;
    writer.write('info');
    const line = JSON.parse(lines.join('')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(line), [
      'level',
      'time',
      'service',
      'component',
      'route',
      'ms',
      'summary',
      'msg',
    ]);
    assert.equal(new Date(String(line['time'])).toISOString(), line['time']);
  });

  test('debug and info lines carry their level numbers; a disabled level says so', () => {
    const debug = both(admissionLogger, { route: 'validate', decision: 'skip' }, 'debug');
    assert.equal(debug.writer, debug.pino);
    assert.match(debug.writer, /^\{"level":20,/);
    assert.match(both(admissionLogger, { route: 'validate' }).writer, /^\{"level":30,/);
    const { stream } = sink();
    const atInfo = lineWriter(createLogger({ destination: stream }), KEYS, 'admission');
    assert.equal(atInfo.enabled('debug'), false);
    assert.equal(atInfo.enabled('info'), true);
    const atWarn = lineWriter(createLogger({ destination: stream, level: 'warn' }), KEYS, 'admission');
    assert.equal(atWarn.enabled('info'), false);
  });

  test("a logger with something that changes lines gets pino's own call: the same line either way", () => {
    const loggers: Array<[string, LoggerOptions]> = [
      ['a mixin', { mixin: () => ({ extra: 1 }) }],
      ['a log formatter', { formatters: { log: (o) => ({ ...o, formatted: true }) } }],
      ['redaction of one of the keys', { redact: { paths: ['user'], censor: '[redacted]' } }],
      ['wildcard redaction (every first list entry)', { redact: { paths: ['*[0]'] } }],
      ['a serializer of one of the keys', { serializers: { user: () => 'someone' } }],
      ['a message prefix', { msgPrefix: '[sigward] ' }],
      ['a nested key', { nestedKey: 'payload' }],
      ['a stream hook', { hooks: { streamWrite: (s) => s.replace('admission', 'ADMISSION') } }],
      ['another message key', { messageKey: 'message' }],
    ];
    const fields: Fields = {
      route: 'validate',
      decision: 'deny',
      user: 'alice',
      reasons: ['NO_POLICY'],
      ms: 2,
    };
    for (const [what, options] of loggers) {
      const make = (destination: Writable): Logger => pino({ base: undefined, ...options }, destination);
      const { pino: expected, writer } = both(make, fields);
      assert.equal(writer, expected, what);
    }
    // The redacted key really is redacted through the writer.
    const { writer } = both((d) => pino({ redact: { paths: ['user'], censor: '[redacted]' } }, d), fields);
    assert.match(writer, /"user":"\[redacted\]"/);
    assert.doesNotMatch(writer, /alice/);
  });
});
