// `npm run demo`: sigward's main job shown offline on a fresh machine, one image admitted and one denied.
//
//   1. Debian's docker-registry on 127.0.0.1 (test/support/docker-registry.ts);
//   2. the image containers/image signed keylessly on the Sigstore public-good instance (a REAL Fulcio
//      certificate + Rekor SET, /work/shared/ext), tagged v1, with its legacy `.sig` signature as cosign
//      places it (test/sigstore/discover-fixtures.ts); and an unsigned image (test/support/images.ts);
//   3. a ClusterImagePolicy for 127.0.0.1:<port>/** naming that certificate's identity (issuer + subject);
//   4. `sigward webhook --policies DIR` with the public-good trusted root embedded in @sigstore/tuf;
//   5. one Pod AdmissionReview per image to /validate and /mutate, printed for a person;
//   6. everything stopped; exit 1 unless the signed image is admitted and the unsigned one denied.
//
// The signed image's manifest is the real one, but its blobs (config, a 2.5 MB layer) are not in the
// fixture, and the registry refuses a manifest PUT whose blobs it lacks (MANIFEST_BLOB_UNKNOWN). So the
// manifest and its tag are written into the registry's storage exactly as a push would leave them; the
// registry then serves them like any pushed manifest (sigward only reads the manifest to resolve the tag).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { X509Certificate } from '@sigstore/core';
import { Agent, request } from 'undici';
import { RegistryClient } from '../src/oci/client.ts';
import type { RepositoryName } from '../src/oci/reference.ts';
import { certificateIdentity } from '../src/sigstore/identity.ts';
import { freePort, startDockerRegistry } from '../test/support/docker-registry.ts';
import { pushTestImage } from '../test/support/images.ts';
import { fulcioRekor, pushLegacySignature } from '../test/sigstore/discover-fixtures.ts';
import { ext, REPO_ROOT } from '../test/sigstore/ext.ts';

const SIGNED_FIXTURE = ext('containers-image/signature/fixtures/dir-img-cosign-fulcio-rekor-valid');
const CERT_ANNOTATION = 'dev.sigstore.cosign/certificate';

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/** The identity the signature's Fulcio certificate names (sigward's own reading of it). */
function identityOf(pem: string): { subject: string; issuer: string } {
  const identity = certificateIdentity(X509Certificate.parse(pem));
  return { subject: identity.subject ?? '', issuer: identity.issuer ?? '' };
}

/** Puts a manifest (and a tag) into docker-registry's filesystem storage as a push would. */
async function seedManifest(storage: string, repository: string, tag: string, bytes: Buffer, digest: string) {
  const hex = digest.slice('sha256:'.length);
  const v2 = path.join(storage, 'docker/registry/v2');
  const put = async (file: string, content: string | Buffer): Promise<void> => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  };
  const manifests = path.join(v2, 'repositories', repository, '_manifests');
  await put(path.join(v2, 'blobs/sha256', hex.slice(0, 2), hex, 'data'), bytes);
  await put(path.join(manifests, 'revisions/sha256', hex, 'link'), digest);
  await put(path.join(manifests, 'tags', tag, 'current/link'), digest);
  await put(path.join(manifests, 'tags', tag, 'index/sha256', hex, 'link'), digest);
}

function review(uid: string, name: string, image: string): unknown {
  const template = JSON.parse(
    readFileSync(path.join(REPO_ROOT, 'examples/admission/pod-kubewarden-controller.json'), 'utf8'),
  ) as {
    request: {
      uid: string;
      name: string;
      object: { metadata: { name: string }; spec: { containers: { image: string }[] } };
    };
  };
  template.request.uid = uid;
  template.request.name = name;
  template.request.object.metadata.name = name;
  template.request.object.spec.containers[0]!.image = image;
  return template;
}

interface Response {
  allowed: boolean;
  status?: { code?: number; message?: string; reason?: string };
  patchType?: string;
  patch?: string;
  warnings?: string[];
}

let failed = false;
const tmp = await mkdtemp(path.join(os.tmpdir(), 'sigward-demo-'));
const registry = await startDockerRegistry();
let webhook: ChildProcess | undefined;
let webhookLog = '';
let dispatcher: Agent | undefined;
try {
  // 1-2. The registry and the two images.
  const client = new RegistryClient();
  const repo = (name: string): RepositoryName => ({ registry: registry.host, repository: `demo/${name}` });
  const manifest = readFileSync(path.join(SIGNED_FIXTURE, 'manifest.json'));
  await seedManifest(path.join(registry.dir, 'storage'), 'demo/signed', 'v1', manifest, fulcioRekor.digest);
  const layer = fulcioRekor.layer();
  await pushLegacySignature(client, repo('signed'), fulcioRekor.digest, [layer]);
  const unsigned = await pushTestImage(client, repo('unsigned'), { tag: 'v1' });
  const signedRef = `${registry.host}/demo/signed:v1`;
  const unsignedRef = `${registry.host}/demo/unsigned:v1`;
  const resolved = await client.resolve({ ...repo('signed'), tag: 'v1' });
  if (resolved.digest !== fulcioRekor.digest)
    throw new Error(`registry resolved ${signedRef} to ${resolved.digest}`);

  const identity = identityOf(layer.annotations[CERT_ANNOTATION] ?? '');
  if (identity.subject !== fulcioRekor.subject || identity.issuer !== fulcioRekor.issuer) {
    throw new Error(`unexpected certificate identity ${JSON.stringify(identity)}`);
  }
  out(`registry   docker-registry at ${registry.url}`);
  out(`signed     ${signedRef} = ${fulcioRekor.digest}`);
  out(`           real public-good keyless signature (Fulcio certificate + Rekor entry) at its .sig tag,`);
  out(
    `           from containers/image's test fixtures; certificate: ${identity.subject} via ${identity.issuer}`,
  );
  out(`unsigned   ${unsignedRef} = ${unsigned.digest}`);

  // 3. The policy.
  const policies = path.join(tmp, 'policies');
  await mkdir(policies);
  const policy = [
    'apiVersion: policy.sigward.dev/v1alpha1',
    'kind: ClusterImagePolicy',
    'metadata:',
    '  name: demo-signed-by-mitr',
    'spec:',
    '  images:',
    `    - ${JSON.stringify(`${registry.host}/**`)}`,
    '  mode: enforce',
    '  authorities:',
    '    - name: mitr-github',
    '      keyless:',
    '        identities:',
    `          - issuer: ${JSON.stringify(identity.issuer)}`,
    `            subject: ${JSON.stringify(identity.subject)}`,
    '',
  ].join('\n');
  await writeFile(path.join(policies, 'demo.yaml'), policy);
  out();
  out(`policy     ${path.join(policies, 'demo.yaml')}:`);
  out(policy.replace(/^(?=.)/gm, '    ').trimEnd());

  // 4. The webhook, with the public-good root embedded in @sigstore/tuf (no --trusted-root).
  const port = await freePort();
  webhook = spawn(
    process.execPath,
    [
      path.join(REPO_ROOT, 'src/cli/main.ts'),
      'webhook',
      '--listen',
      `127.0.0.1:${port}`,
      '--policies',
      policies,
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const child = webhook;
  child.stdout?.on('data', (chunk: Buffer) => (webhookLog += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (webhookLog += chunk.toString('utf8')));
  const base = `https://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sigward webhook exited early:\n${webhookLog}`);
    if (Date.now() > deadline) throw new Error(`sigward webhook not ready within 30 s:\n${webhookLog}`);
    // Trust only the self-signed CA the webhook printed (the caBundle a cluster would be given).
    const ca = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(webhookLog)?.[0];
    if (ca !== undefined) {
      dispatcher ??= new Agent({ connect: { ca } });
      try {
        const ready = await request(`${base}/readyz`, { dispatcher });
        await ready.body.dump();
        if (ready.statusCode === 200) break;
      } catch {
        // not listening yet
      }
    }
    await delay(100);
  }
  const tlsAgent = dispatcher;
  out();
  out(`webhook    sigward webhook --listen 127.0.0.1:${port} --policies ${policies}`);
  out(`           trusted root: public-good, embedded in @sigstore/tuf (offline)`);

  // 5. Two Pods, each to /validate and /mutate.
  const post = async (endpoint: string, body: unknown): Promise<Response> => {
    const response = await request(`${base}${endpoint}`, {
      method: 'POST',
      dispatcher: tlsAgent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const parsed = (await response.body.json()) as { response: Response };
    return parsed.response;
  };
  const signedReview = review('0d3a7c1e-0001-4b7e-9a51-5e2f8c1d0a01', 'signed', signedRef);
  const unsignedReview = review('0d3a7c1e-0002-4b7e-9a51-5e2f8c1d0a02', 'unsigned', unsignedRef);
  const admitted = await post('/validate', signedReview);
  const pinned = await post('/mutate', signedReview);
  const denied = await post('/validate', unsignedReview);
  const deniedMutate = await post('/mutate', unsignedReview);

  out();
  out(`Pod "signed" (${signedRef})`);
  out(`  /validate: ${admitted.allowed ? 'ADMITTED' : 'DENIED'} (allowed: ${admitted.allowed})`);
  if (!admitted.allowed) out(`    ${admitted.status?.message ?? ''}`);
  const patch =
    pinned.patch === undefined
      ? []
      : (JSON.parse(Buffer.from(pinned.patch, 'base64').toString('utf8')) as unknown[]);
  out(
    `  /mutate:   allowed: ${pinned.allowed}, ${pinned.patch === undefined ? 'no patch' : `${pinned.patchType ?? 'a'} patch pinning the verified digest:`}`,
  );
  for (const op of patch) out(`    ${JSON.stringify(op)}`);
  out();
  out(`Pod "unsigned" (${unsignedRef})`);
  out(
    `  /validate: ${denied.allowed ? 'ADMITTED' : 'DENIED'} (allowed: ${denied.allowed}, code ${denied.status?.code ?? '-'})`,
  );
  out(`    ${denied.status?.message ?? ''}`);
  out(
    `  /mutate:   allowed: ${deniedMutate.allowed}, ${deniedMutate.patch === undefined ? 'no patch' : 'a patch'} (only verified images are pinned; /validate is the one that denies)`,
  );

  const expectedPin = `${signedRef}@${fulcioRekor.digest}`;
  const pinnedOk = patch.some((op) => JSON.stringify(op).includes(expectedPin));
  if (!admitted.allowed || !pinned.allowed || !pinnedOk) {
    out();
    out(`FAIL: ${signedRef} should be admitted and pinned to ${expectedPin}`);
    failed = true;
  }
  if (denied.allowed || !(denied.status?.message ?? '').includes('[SIGNATURE_MISSING]')) {
    out();
    out(`FAIL: ${unsignedRef} should be denied as SIGNATURE_MISSING`);
    failed = true;
  }
  out();
  out(failed ? 'demo FAILED' : 'demo OK: the signed image is admitted and pinned, the unsigned one denied');
} catch (error) {
  failed = true;
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
} finally {
  // 6. Stop everything.
  if (webhook !== undefined && webhook.exitCode === null && webhook.signalCode === null) {
    const child = webhook;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  }
  await dispatcher?.close();
  await registry.stop();
  await rm(tmp, { recursive: true, force: true });
}
if (failed && webhookLog !== '') process.stderr.write(`sigward webhook output:\n${webhookLog}\n`);
process.exitCode = failed ? 1 : 0;
