// Lint rules, including the import directions of shared/DESIGN.md: imports point one way, so each
// module lists the sibling modules (and the packages) it may use and everything else is an error.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Which src/ modules each module may import (DESIGN.md "Modules"). cli/ may import everything. */
const allowedModules = {
  errors: [],
  deadline: [],
  config: ['errors'],
  admission: ['errors', 'oci/reference', 'policy/decision'],
  oci: ['errors', 'deadline'],
  sigstore: ['errors', 'oci'],
  policy: ['errors', 'oci/reference', 'sigstore/identity'],
  engine: ['admission', 'oci', 'sigstore', 'policy', 'errors', 'deadline'],
  kube: ['policy', 'oci/auth', 'exec-credentials/run-program', 'errors'],
  server: ['engine', 'admission', 'telemetry', 'errors'],
  telemetry: ['errors'],
  signer: ['oci', 'sigstore', 'errors'],
  cloud: ['oci/auth', 'oci/http', 'oci/expiring-answers', 'oci/registry-errors', 'errors'],
  'exec-credentials': ['oci/auth', 'oci/credentials', 'oci/expiring-answers', 'oci/reference', 'errors'],
};

/** Packages that only one layer may touch, so the picture of who talks to the outside stays true. */
const packageOwners = {
  fastify: ['server', 'cli'],
  undici: ['oci', 'kube'],
  'prom-client': ['telemetry'],
  pino: ['telemetry'],
  '@sigstore/sign': ['signer', 'sigstore'],
  '@sigstore/verify': ['sigstore'],
  '@sigstore/tuf': ['sigstore'],
  '@sigstore/bundle': ['sigstore', 'signer'],
  '@sigstore/core': ['sigstore', 'signer'],
  '@aws-sdk/client-ecr': ['cloud'],
  // CEL: compiled and evaluated by policy/conditions.ts only.
  '@bufbuild/cel': ['policy'],
  '@bufbuild/protobuf': ['policy'],
  '@marcbachmann/cel-js': ['policy'],
  '@aws-sdk/credential-providers': ['cloud'],
  'google-auth-library': ['cloud'],
  '@azure/identity': ['cloud'],
};

const moduleNames = Object.keys(allowedModules);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Packages no file in src/ may import, and why. */
const bannedPackages = {
  // Importing it (even dist/config.js alone) loads every API group and ~800 models: +80 MiB RSS.
  '@kubernetes/client-node':
    "src/ uses sigward's own Kubernetes client (src/kube/client), not @kubernetes/client-node (+80 MiB RSS on import).",
};
const bannedPatterns = Object.entries(bannedPackages).map(([pkg, message]) => ({
  regex: `^${escape(pkg)}(/|$)`,
  message,
}));

function importRulesFor(module) {
  const allowed = allowedModules[module];
  const patterns = [];
  for (const other of moduleNames) {
    if (other === module) continue;
    const whole = allowed.includes(other);
    const parts = allowed.filter((a) => a.startsWith(`${other}/`));
    if (whole) continue;
    // A relative import that climbs out of this module into `other`, except the named parts.
    const except = parts.map((p) => `(?!${escape(p.slice(other.length + 1))}(\\.ts)?$)`).join('');
    patterns.push({
      regex: `^(\\.\\./)+${escape(other)}(\\.ts$|/${except})`,
      message: `src/${module} may not import src/${other} (see shared/DESIGN.md, "Modules").`,
    });
  }
  for (const [pkg, owners] of Object.entries(packageOwners)) {
    if (owners.includes(module)) continue;
    patterns.push({
      regex: `^${escape(pkg)}(/|$)`,
      message: `only ${owners.map((o) => `src/${o}`).join(', ')} may use ${pkg}.`,
    });
  }
  return { 'no-restricted-imports': ['error', { patterns: [...patterns, ...bannedPatterns] }] };
}

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'e2e/.bin/**',
      'charts/**',
      'coverage/**',
      '.scratch*/**',
      '.e2e-logs/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        structuredClone: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        fetch: 'readonly',
        queueMicrotask: 'readonly',
        setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  // cli/ may import every module, but not a banned package.
  { files: ['src/cli/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: bannedPatterns }] } },
  ...moduleNames.map((module) => ({
    files: [`src/${module}/**/*.ts`, `src/${module}.ts`],
    rules: importRulesFor(module),
  })),
);
