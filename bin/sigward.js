#!/usr/bin/env node
// The `sigward` command (bin/sigward links here; package.json's bin). In a checkout it runs src/ on
// Node 24's type stripping; `npm run build` compiles this file with src/ into dist/, where the import
// below names main.js, and that copy is the image's entrypoint. The `node` a shell finds first is often an
// older one (the machines carry Node 20). So this file is plain JavaScript any Node since 14 parses:
// on Node >= 24.15 it loads the CLI; on an older Node it re-runs itself on the project's own Node 24
// (the npm `node` package that `npm ci` installs into node_modules), or says in one line what to do.
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NEEDED = [24, 15];
const RELAUNCHED = 'SIGWARD_LAUNCHER_NODE';

function recentEnough(version) {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > NEEDED[0] || (major === NEEDED[0] && minor >= NEEDED[1]);
}

/** node_modules/node/bin/node as Node's resolution finds it from here (the project, or a parent's). */
function projectNode() {
  try {
    const pkg = createRequire(import.meta.url).resolve('node/package.json');
    const binary = join(dirname(pkg), 'bin', 'node');
    return existsSync(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}

if (recentEnough(process.version)) {
  await import('../src/cli/main.ts');
} else {
  const binary = process.env[RELAUNCHED] === undefined ? projectNode() : undefined;
  if (binary === undefined || realpathSync(binary) === realpathSync(process.execPath)) {
    process.stderr.write(
      `sigward: needs Node >= ${NEEDED.join('.')} (this is ${process.version} at ${process.execPath}): ` +
        `run \`npm ci\` in ${join(dirname(fileURLToPath(import.meta.url)), '..')} (it installs Node 24 ` +
        `into node_modules), or put Node 24 first on PATH\n`,
    );
    process.exit(1);
  }
  const child = spawn(binary, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [RELAUNCHED]: process.execPath },
  });
  // The webhook stops cleanly on SIGTERM: pass it on. Ctrl-C already reaches the child (same process
  // group), so SIGINT is only kept from killing this process first; a second copy would cut the drain.
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  process.on('SIGINT', () => {});
  child.on('error', (error) => {
    process.stderr.write(`sigward: cannot start ${binary}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
}
