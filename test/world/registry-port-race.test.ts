// The registry starter (test/support/docker-registry.ts) starts a registry again on another port when
// it lost the race for its port. The registry here is a shell script standing in for one whose bind
// failed (a test double of that one failure, named as such): it writes the error Go's net package
// writes and exits at once, so the retry must read why from the output it has in memory, not from the
// log file, which can still lack those lines when the child has exited; and the log file must be
// ended only once that output is all read ('close'), not at 'exit' (a write after end). Before the
// fix both races lost about one run in four here (2 of 8), and once in .ci/run's e2e world.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startDockerRegistry } from '../support/docker-registry.ts';

async function failingRegistry(
  message: string,
): Promise<{ bin: string; attempts: () => Promise<number>; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sigward-port-race-'));
  const bin = path.join(dir, 'registry-that-loses-its-port');
  const count = path.join(dir, 'attempts');
  // A registry writes some lines before it binds; many here, so that the last line is still on its
  // way to the log file when the process has exited.
  const chatter = `i=0; while [ $i -lt 4000 ]; do echo "level=info msg=\\"starting, line $i\\""; i=$((i+1)); done >&2`;
  await writeFile(bin, `#!/bin/sh\necho x >> '${count}'\n${chatter}\necho '${message}' >&2\nexit 1\n`, {
    mode: 0o755,
  });
  const attempts = async () => (await readFile(count, 'utf8')).trim().split('\n').length;
  return { bin, attempts, dir };
}

test('a registry that lost the race for its port is started again, three times in all, and the error says why', async () => {
  const fake = await failingRegistry('listen tcp 127.0.0.1:5000: bind: address already in use');
  try {
    await assert.rejects(
      startDockerRegistry({ program: { name: 'port-race double', bin: fake.bin, install: 'none' } }),
      /port-race double exited early:\n[\s\S]*listen tcp 127\.0\.0\.1:5000: bind: address already in use/,
    );
    assert.equal(await fake.attempts(), 3);
  } finally {
    await rm(fake.dir, { recursive: true, force: true });
  }
});

test('any other failure to start is not retried, and the error quotes the output', async () => {
  const fake = await failingRegistry('configuration error: unknown storage driver');
  try {
    await assert.rejects(
      startDockerRegistry({ program: { name: 'broken double', bin: fake.bin, install: 'none' } }),
      /broken double exited early:\n[\s\S]*configuration error: unknown storage driver/,
    );
    assert.equal(await fake.attempts(), 1);
  } finally {
    await rm(fake.dir, { recursive: true, force: true });
  }
});
