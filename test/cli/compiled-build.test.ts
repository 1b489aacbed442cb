// The image runs what `npm run build` compiles (tsconfig.build.json: tsc into dist/), not src/: every
// module must come out as JavaScript whose relative imports name .js files, and the compiled `sigward`
// must run with Node's TypeScript support switched off. Built here into a scratch directory inside the
// repository (so node_modules resolves as from dist/), without the type check `npm run lint` already does.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT } from '../sigstore/ext.ts';

let out = '';
before(() => {
  out = mkdtempSync(join(REPO_ROOT, '.scratch-build-'));
  const tsc = spawnSync(
    process.execPath,
    [
      join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(REPO_ROOT, 'tsconfig.build.json'),
      '--outDir',
      out,
      '--noCheck',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(tsc.status, 0, `${tsc.stdout}${tsc.stderr}`);
});
after(() => rmSync(out, { recursive: true, force: true }));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** The compiled `sigward` with these arguments, TypeScript off (as nothing in the image needs it). */
function compiledSigward(args: readonly string[]) {
  return spawnSync(
    process.execPath,
    ['--no-experimental-strip-types', join(out, 'bin/sigward.js'), ...args],
    {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
}

test('every source file is compiled to JavaScript with a source map, and nothing else is emitted', () => {
  const sources = filesUnder(join(REPO_ROOT, 'src'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `src/${f.replace(/\.ts$/, '.js')}`);
  const emitted = filesUnder(out);
  const scripts = emitted.filter((f) => f.endsWith('.js')).sort();
  assert.deepEqual(scripts, ['bin/sigward.js', ...sources].sort());
  assert.deepEqual(
    emitted.filter((f) => f.endsWith('.js.map')).sort(),
    scripts.map((f) => `${f}.map`),
  );
  assert.deepEqual(
    emitted.filter((f) => !f.endsWith('.js') && !f.endsWith('.js.map')),
    [],
    'only .js and .js.map files',
  );
});

test('no compiled module imports a .ts file', () => {
  const tsImport = /(?:from\s*|import\s*\(\s*)["'](\.{1,2}\/[^"']+\.ts)["']/g;
  const offenders = filesUnder(out)
    .filter((f) => f.endsWith('.js'))
    .flatMap((f) => [...readFileSync(join(out, f), 'utf8').matchAll(tsImport)].map((m) => `${f}: ${m[1]}`));
  assert.deepEqual(offenders, []);
});

test('the compiled sigward runs with TypeScript support off: --help and webhook --help', () => {
  const help = compiledSigward(['--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /sigward webhook\s+run the admission webhook/);
  // webhook --help loads the webhook's whole module graph (server, engine, sigstore, oci, kube).
  const webhook = compiledSigward(['webhook', '--help']);
  assert.equal(webhook.status, 0, webhook.stderr);
  assert.match(webhook.stdout, /^Usage: sigward webhook/);
});

test('a check that would catch source run from the build: the TypeScript entry fails with support off', () => {
  const run = spawnSync(
    process.execPath,
    ['--no-experimental-strip-types', join(REPO_ROOT, 'bin/sigward.js'), '--help'],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
  );
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /ERR_UNKNOWN_FILE_EXTENSION|Unknown file extension "\.ts"/);
});
