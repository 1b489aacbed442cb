// The import directions of shared/DESIGN.md are enforced by eslint.config.js; these cases prove the
// rule both refuses a wrong-way import and allows the permitted ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImportMessages(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('oci may not import kube', async () => {
  const messages = await restrictedImportMessages(
    'src/oci/client.ts',
    "import { x } from '../kube/informer.ts';\nexport const y = x;\n",
  );
  assert.equal(messages.length, 1);
  assert.match(messages[0] ?? '', /src\/oci may not import src\/kube \(see shared\/DESIGN.md/);
});

test('a nested file climbing two levels is caught too', async () => {
  const messages = await restrictedImportMessages(
    'src/sigstore/legacy/convert.ts',
    "import { x } from '../../policy/match.ts';\nexport const y = x;\n",
  );
  assert.equal(messages.length, 1);
});

test('admission may import oci/reference but not the rest of oci', async () => {
  const allowed = await restrictedImportMessages(
    'src/admission/sites.ts',
    "import { x } from '../oci/reference.ts';\nexport const y = x;\n",
  );
  assert.deepEqual(allowed, []);
  const refused = await restrictedImportMessages(
    'src/admission/sites.ts',
    "import { x } from '../oci/client.ts';\nexport const y = x;\n",
  );
  assert.equal(refused.length, 1);
});

test('no file in src/ may use @kubernetes/client-node, cli included', async () => {
  for (const file of ['src/kube/kubeconfig.ts', 'src/cli/webhook.ts', 'src/engine/review.ts']) {
    const refused = await restrictedImportMessages(
      file,
      "import { KubeConfig } from '@kubernetes/client-node';\nexport const k = KubeConfig;\n",
    );
    assert.equal(refused.length, 1, file);
    assert.match(refused[0] ?? '', /sigward's own Kubernetes client \(src\/kube\/client\)/);
  }
});

test('kube may use undici and the program runner, not the rest of exec-credentials', async () => {
  const allowed = await restrictedImportMessages(
    'src/kube/client/http.ts',
    "import { Agent } from 'undici';\nimport { runProgram } from '../../exec-credentials/run-program.ts';\nexport const a = [Agent, runProgram];\n",
  );
  assert.deepEqual(allowed, []);
  const refused = await restrictedImportMessages(
    'src/kube/client/http.ts',
    "import { x } from '../../exec-credentials/docker-helper.ts';\nexport const y = x;\n",
  );
  assert.equal(refused.length, 1);
});

test('engine may import sigstore', async () => {
  const allowed = await restrictedImportMessages(
    'src/engine/review.ts',
    "import { x } from '../sigstore/verify.ts';\nexport const y = x;\n",
  );
  assert.deepEqual(allowed, []);
});

test('only cloud may use the AWS SDK, and cloud may import oci/auth but not the rest of oci', async () => {
  const refused = await restrictedImportMessages(
    'src/oci/credentials.ts',
    "import { ECRClient } from '@aws-sdk/client-ecr';\nexport const c = ECRClient;\n",
  );
  assert.equal(refused.length, 1);
  assert.match(refused[0] ?? '', /only src\/cloud may use @aws-sdk\/client-ecr\./);
  const allowed = await restrictedImportMessages(
    'src/cloud/ecr.ts',
    "import { ECRClient } from '@aws-sdk/client-ecr';\nimport type { Keychain } from '../oci/auth.ts';\nexport const c: [unknown, Keychain?] = [ECRClient];\n",
  );
  assert.deepEqual(allowed, []);
  const wrongWay = await restrictedImportMessages(
    'src/cloud/ecr.ts',
    "import { RegistryClient } from '../oci/client.ts';\nexport const c = RegistryClient;\n",
  );
  assert.equal(wrongWay.length, 1);
});

test('only cloud may use google-auth-library and @azure/identity; cloud may use oci/http for the ACR exchange', async () => {
  const owned: ReadonlyArray<readonly [string, string]> = [
    ['google-auth-library', 'GoogleAuth'],
    ['@azure/identity', 'WorkloadIdentityCredential'],
  ];
  for (const [pkg, name] of owned) {
    const refused = await restrictedImportMessages(
      'src/oci/credentials.ts',
      `import { ${name} } from '${pkg}';\nexport const c = ${name};\n`,
    );
    assert.equal(refused.length, 1, pkg);
    assert.match(refused[0] ?? '', new RegExp(`only src/cloud may use ${pkg.replace('/', '\\/')}\\.`));
    const allowed = await restrictedImportMessages(
      'src/cloud/gcp.ts',
      `import { ${name} } from '${pkg}';\nimport type { HttpTransport } from '../oci/http.ts';\nexport const c: [unknown, HttpTransport?] = [${name}];\n`,
    );
    assert.deepEqual(allowed, [], pkg);
  }
});

test('exec-credentials may use oci credential types but not kube or the OCI client', async () => {
  const allowed = await restrictedImportMessages(
    'src/exec-credentials/docker-helper.ts',
    "import { x } from '../oci/credentials.ts';\nexport const y = x;\n",
  );
  assert.deepEqual(allowed, []);
  for (const target of ['../kube/index.ts', '../oci/client.ts']) {
    const refused = await restrictedImportMessages(
      'src/exec-credentials/docker-helper.ts',
      `import { x } from '${target}';\nexport const y = x;\n`,
    );
    assert.equal(refused.length, 1, target);
  }
});
