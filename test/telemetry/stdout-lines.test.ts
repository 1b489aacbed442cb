// The webhook's stdout log destination (batched, bytes encoded once per line): every line reaches
// stdout whole and in order, multi-byte text included, when the process ends right after logging,
// by process.exit or by running out of work.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
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
