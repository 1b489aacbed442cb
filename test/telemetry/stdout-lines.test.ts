// The webhook's stdout log destination (batched, bytes encoded once per line): every line reaches
// stdout whole and in order, multi-byte text included, when the process ends right after logging,
// by process.exit or by running out of work.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { promisify } from 'node:util';

const logger = new URL('../../src/telemetry/logger.ts', import.meta.url).href;
const TEXT = 'ünïcödé 名前 🚀 "quoted" \\ back';

async function linesOf(ending: string): Promise<Array<Record<string, unknown>>> {
  const program = `
    const { createLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger();
    for (let i = 0; i < 3000; i++) log.info({ i, text: ${JSON.stringify(TEXT)} }, 'line');
    ${ending}`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', program], {
    maxBuffer: 1 << 24,
  });
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

for (const [how, ending] of [
  ['process.exit', 'process.exit(0);'],
  ['the end of its work', ''],
] as const) {
  test(`stdout lines: all 3000, whole and in order, when the process ends by ${how}`, async () => {
    const lines = await linesOf(ending);
    assert.equal(lines.length, 3000);
    lines.forEach((line, i) => {
      assert.equal(line['i'], i);
      assert.equal(line['text'], TEXT);
      assert.equal(line['msg'], 'line');
    });
  });
}

// A full batch is written between turns of the event loop, never inside the call that logged the line
// filling it (a thread-pool hand-off there stalled every review in flight), and reaches stdout while the
// process runs on: the program counts fs.write calls on fd 1 made during its synchronous logging, then
// keeps running until its lines have gone out.
test(
  'stdout lines: a full batch is written after the logging turn, while the process runs on',
  { timeout: 20_000 },
  async () => {
    const program = `
    import fs from 'node:fs';
    let writes = 0;
    const write = fs.write;
    fs.write = (fd, ...rest) => { if (fd === 1) writes++; return write(fd, ...rest); };
    const { createLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger();
    for (let i = 0; i < 200; i++) log.info({ i, text: ${JSON.stringify(TEXT)} }, 'line');
    const duringLogging = writes;
    // Still running, no exit flush: the lines must go out on their own.
    while (writes === 0) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 0));
    process.stderr.write(JSON.stringify({ duringLogging, afterwards: writes }));
    fs.write = () => { throw new Error('written at exit'); };
    fs.writeSync = () => { throw new Error('written at exit'); };
    process.exitCode = 0;`;
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', program],
      // A regression that writes only at exit would loop forever: the child is killed instead.
      { maxBuffer: 1 << 24, timeout: 15_000 },
    );
    const counts = JSON.parse(stderr) as { duringLogging: number; afterwards: number };
    assert.equal(counts.duringLogging, 0, 'no write inside the logging turn');
    assert.ok(counts.afterwards >= 1);
    const lines = stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 200, 'every line out before exit');
    lines.forEach((line, i) => assert.equal((JSON.parse(line) as { i: number }).i, i));
  },
);

// Lines logged after the stream was closed are dropped, as nowhere is left to write them: the batch's
// timer must not throw (it would end the process from a timer callback).
test('stdout lines: a batch still gathered when the stream is closed is dropped, the process keeps running', async () => {
  const program = `
    const { pino } = await import('pino');
    const { createLogger } = await import(${JSON.stringify(logger)});
    const log = createLogger();
    const stream = log[pino.symbols.streamSym];
    for (let i = 0; i < 200; i++) log.info({ i, text: ${JSON.stringify(TEXT)} }, 'line');
    stream.destroy();
    // A timer of the same duration set after the batch's (setTimeout 0) runs after it.
    await new Promise((resolve) => setTimeout(resolve, 0));
    process.stderr.write('still running');`;
  const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', program], {
    maxBuffer: 1 << 24,
    cwd: new URL('../..', import.meta.url),
  });
  assert.equal(stderr, 'still running');
});

// The admission line reaches stdout as its parts (lineWriter hands them to the batch, no string per
// line): each line must read byte for byte as pino's own call writes it, whole and in order among
// ordinary lines, across many batches. Each batch reaches fs.write as bytes encoded once (a string
// was measured, encoded by fs.write and encoded again when its write completed).
test('stdout lines: lines written as parts read as pino writes them, in order, across batches', async () => {
  const program = `
    import fs from 'node:fs';
    const kinds = new Set();
    for (const name of ['write', 'writeSync']) {
      const original = fs[name];
      fs[name] = (fd, data, ...rest) => {
        if (fd === 1) kinds.add(typeof data === 'string' ? 'string' : data.constructor.name);
        return original(fd, data, ...rest);
      };
    }
    const { pino } = await import('pino');
    const { createLogger, lineWriter } = await import(${JSON.stringify(logger)});
    const { WRITE_PARTS } = await import(${JSON.stringify(new URL('../../src/telemetry/stdout-lines.ts', import.meta.url).href)});
    Date.now = () => 1765000000123;
    const log = createLogger({ level: 'debug' });
    const admission = log.child({ component: 'admission' }, { redact: { paths: [] } });
    const stream = log[pino.symbols.streamSym];
    const writeParts = stream[WRITE_PARTS];
    let asParts = 0;
    stream[WRITE_PARTS] = (parts, count) => { asParts++; writeParts(parts, count); };
    const keys = ['route', 'decision', 'uid', 'user', 'reasons', 'ms', 'summary'];
    const writer = lineWriter(admission, keys, 'admission');
    for (let i = 0; i < 600; i++) {
      const fields = {
        route: 'validate',
        decision: i % 3 === 0 ? 'deny' : 'allow',
        uid: 'uid-' + i,
        user: ${JSON.stringify(TEXT)},
        reasons: i % 3 === 0 ? ['SIGNATURE_MISSING', 'NO_POLICY'] : undefined,
        ms: i / 10,
        summary: i % 3 === 0 ? 'denied ' + 'x'.repeat(i) : undefined,
      };
      for (const key of keys) writer.fields[key] = fields[key];
      writer.write(i % 5 === 0 ? 'debug' : 'info');
      const line = {};
      for (const key of keys) if (fields[key] !== undefined) line[key] = fields[key];
      admission[i % 5 === 0 ? 'debug' : 'info'](line, 'admission');
      log.info({ i }, 'between');
    }
    process.on('exit', () => process.stderr.write(' ' + [...kinds].join()));
    process.stderr.write(String(asParts));`;
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', program],
    { maxBuffer: 1 << 24, cwd: new URL('../..', import.meta.url) },
  );
  assert.equal(stderr, '600 Buffer', 'every admission line went to stdout as its parts, in Buffers');
  const lines = stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1800);
  for (let i = 0; i < 600; i++) {
    const [asParts, byPino, between] = lines.slice(3 * i, 3 * i + 3);
    assert.equal(asParts, byPino, `line ${i}`);
    assert.equal(JSON.parse(byPino!)['uid'], `uid-${i}`);
    assert.equal(JSON.parse(between!)['i'], i);
  }
});

// process.exit's flush (pino's exit hook, flushSync) writes what is still gathered at once, while a
// write already under way in the thread pool may still wait on a pipe its reader has not emptied: the
// exit's writes went in between that write's pieces, cutting lines in two. The webhook waits for
// linesWritten before process.exit: here stdout's reader reads nothing until the program says it is
// about to exit, by which time a batch's write is waiting on the full pipe.
test(
  'stdout lines: linesWritten before process.exit: every line out whole, behind a write waiting on a full pipe',
  { timeout: 20_000 },
  async () => {
    const program = `
    const { createLogger, linesWritten } = await import(${JSON.stringify(logger)});
    const log = createLogger();
    const pad = 'x'.repeat(300);
    for (let i = 0; i < 3000; i++) log.info({ i, pad }, 'line');
    // The batch's timer (setTimeout 0, set first) runs before this one: its write of ~1 MB has started,
    // and waits on the pipe (64 KiB) its reader does not read yet.
    await new Promise((resolve) => setTimeout(resolve, 0));
    // Still gathered at exit: the exit's own writes.
    for (let i = 3000; i < 3100; i++) log.info({ i, pad }, 'line');
    process.stderr.write('exiting');
    await linesWritten(log, 15_000);
    process.exit(0);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pause();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // Only now does the reader read.
      if (stderr.includes('exiting')) child.stdout.resume();
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const [code] = (await once(child, 'close')) as [number];
    assert.equal(code, 0, stderr);
    const lines = Buffer.concat(chunks).toString().split('\n');
    assert.equal(lines.pop(), '', 'the output ends with a whole line');
    assert.equal(lines.length, 3100);
    lines.forEach((line, i) => assert.equal((JSON.parse(line) as { i: number }).i, i));
  },
);

// The batch's array of strings is kept from batch to batch, and each batch joins all of it (what is
// past the batch is ''): after a burst of lines in one turn, keeping the burst's size would make every
// later batch walk it. The program records the arrays joined into a batch after a burst of 50,000.
test('stdout lines: after a burst, later batches do not walk the burst-sized array', async () => {
  const program = `
    const { createLogger, linesWritten } = await import(${JSON.stringify(logger)});
    const log = createLogger();
    for (let i = 0; i < 50_000; i++) log.info({ i }, 'burst');
    await new Promise((resolve) => setTimeout(resolve, 0));
    await linesWritten(log, 10_000);
    const joined = [];
    const join = Array.prototype.join;
    Array.prototype.join = function (separator) {
      if (separator === '') joined.push(this.length);
      return join.call(this, separator);
    };
    for (let i = 0; i < 100; i++) log.info({ i }, 'after');
    await linesWritten(log, 10_000);
    Array.prototype.join = join;
    process.stderr.write(JSON.stringify(joined));`;
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', program],
    {
      maxBuffer: 1 << 26,
    },
  );
  assert.equal(stdout.split('\n').filter((l) => l !== '').length, 50_100);
  const joined = JSON.parse(stderr) as number[];
  assert.ok(joined.length >= 1, 'the later batch is joined');
  assert.ok(Math.max(...joined) <= 8192, `arrays joined after the burst: ${joined.join(', ')}`);
});
