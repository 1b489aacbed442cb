// `sigward verify` end to end against a real registry (Debian's docker-registry), offline: real
// public-good signatures placed as cosign places them, the prod trusted root from a file, credentials
// from a docker config file. Each outcome has its exit code, reason code and words.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runVerify } from '../../src/cli/verify.ts';
import { RegistryClient } from '../../src/oci/client.ts';
import { staticKeychain } from '../../src/oci/auth.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { OCI_INDEX } from '../../src/oci/media-types.ts';
import { pushTestImage, pushTestIndex } from '../support/images.ts';
import {
  fulcioRekor,
  kubewarden,
  pushBundleReferrer,
  pushLegacySignature,
  testSigner,
} from '../sigstore/discover-fixtures.ts';
import { PROD_ROOT_PATH, STAGING_ROOT_PATH } from '../sigstore/ext.ts';

let registry: DockerRegistry;
let client: RegistryClient;
let home: string;
let repo: RepositoryName;
const root = `--trusted-root=${PROD_ROOT_PATH}`;

before(async () => {
  registry = await startDockerRegistry();
  client = new RegistryClient();
  home = mkdtempSync(join(tmpdir(), 'sigward-verify-cli-'));
  repo = { registry: registry.host, repository: 'cli/app' };
  await pushLegacySignature(client, repo, fulcioRekor.digest, [fulcioRekor.layer()]);
  await pushBundleReferrer(client, repo, kubewarden.digest, kubewarden.bundle());
});
afterEach((t) => registry.noteResult(t));
after(async () => {
  await client?.close();
  await registry?.stop();
});

async function run(args: string[], env: NodeJS.ProcessEnv = { HOME: home }) {
  let out = '';
  let err = '';
  const code = await runVerify(args, { out: (t) => (out += t), err: (t) => (err += t) }, env);
  return { code, out, err };
}

const at = (digest: string, r: RepositoryName = repo) => `${r.registry}/${r.repository}@${digest}`;
const kubewardenIdentity = [
  `--certificate-identity=${kubewarden.subject}`,
  `--certificate-oidc-issuer=${kubewarden.issuer}`,
];

describe('keyless', () => {
  test('verified: exit 0, issuer, subject and extensions printed', async () => {
    const r = await run([root, ...kubewardenIdentity, at(kubewarden.digest)]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Verified .*cli\/app@sha256:c811d58d.*: 1 of 1 signature\(s\) verified/);
    assert.match(r.out, /ok {3}referrer \(fallback tag\) sha256:[0-9a-f]{12}… layer 0: issuer/);
    assert.match(
      r.out,
      new RegExp(`issuer ${kubewarden.issuer}, subject ${kubewarden.subject.replace(/[.]/g, '\\.')}`),
    );
    assert.match(r.out, /sourceRepositoryURI: https:\/\/github\.com\/kubewarden\/kubewarden-controller/);
  });

  test('--output json: the verdict with every signature and the trust root version', async () => {
    const r = await run([root, ...kubewardenIdentity, '--output=json', at(kubewarden.digest)]);
    assert.equal(r.code, 0, r.err);
    const verdict = JSON.parse(r.out) as {
      status: string;
      code: string;
      trustRoot: string;
      signatures: {
        verified: boolean;
        signer: { subject: string; issuer: string; extensions: Record<string, string> };
      }[];
    };
    assert.equal(verdict.status, 'verified');
    assert.equal(verdict.code, 'VERIFIED');
    assert.match(verdict.trustRoot, /^sha256:[0-9a-f]{64}$/);
    assert.equal(verdict.signatures[0]?.signer.subject, kubewarden.subject);
    assert.equal(verdict.signatures[0]?.signer.extensions['buildTrigger'], 'push');
  });

  test('regexp identity and issuer are anchored RE2', async () => {
    const ok = await run([
      root,
      '--certificate-identity-regexp=https://github\\.com/kubewarden/.+',
      '--certificate-oidc-issuer-regexp=https://token\\.actions\\.githubusercontent\\.com',
      at(kubewarden.digest),
    ]);
    assert.equal(ok.code, 0, ok.err);
    const unanchored = await run([
      root,
      '--certificate-identity-regexp=kubewarden',
      `--certificate-oidc-issuer=${kubewarden.issuer}`,
      at(kubewarden.digest),
    ]);
    assert.equal(unanchored.code, 1);
    assert.match(unanchored.err, /\[IDENTITY_SUBJECT_MISMATCH\]/);
  });

  test('GitHub workflow flags and --certificate-extension match Fulcio extensions', async () => {
    const ok = await run([
      root,
      ...kubewardenIdentity,
      '--certificate-github-workflow-repository=kubewarden/kubewarden-controller',
      '--certificate-github-workflow-trigger=push',
      '--certificate-extension=sourceRepositoryRef=refs/tags/v1.34.0',
      at(kubewarden.digest),
    ]);
    assert.equal(ok.code, 0, ok.err);
    const wrong = await run([
      root,
      ...kubewardenIdentity,
      '--certificate-github-workflow-repository=evil/kubewarden-controller',
      at(kubewarden.digest),
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /\[IDENTITY_EXTENSION_MISMATCH\]/);
    assert.match(
      wrong.err,
      /githubWorkflowRepository: expected "evil\/kubewarden-controller", found "kubewarden\/kubewarden-controller"/,
    );
  });

  test('wrong identity and wrong issuer: exit 1, own code, expected and found', async () => {
    const subject = await run([
      root,
      '--certificate-identity=someone@example.com',
      `--certificate-oidc-issuer=${fulcioRekor.issuer}`,
      at(fulcioRekor.digest),
    ]);
    assert.equal(subject.code, 1);
    assert.match(subject.err, /^NOT VERIFIED .* \[IDENTITY_SUBJECT_MISMATCH\]/);
    assert.match(subject.err, /subject: expected "someone@example.com", found "mitr@redhat.com"/);
    assert.match(
      subject.err,
      /FAIL legacy \.sig sha256:[0-9a-f]{12}… layer 0: \[IDENTITY_SUBJECT_MISMATCH\]/,
    );
    const issuer = await run([
      root,
      `--certificate-identity=${fulcioRekor.subject}`,
      '--certificate-oidc-issuer=https://accounts.google.com',
      at(fulcioRekor.digest),
    ]);
    assert.equal(issuer.code, 1);
    assert.match(issuer.err, /\[IDENTITY_ISSUER_MISMATCH\]/);
  });

  test("an untrusted CA (a trusted root without the signer's Fulcio) is SIGSTORE_CERTIFICATE_UNTRUSTED", async () => {
    // The prod root with staging's Fulcio in place of prod's: logs and TSA trusted, the CA not.
    const prod = JSON.parse(readFileSync(PROD_ROOT_PATH, 'utf8')) as Record<string, unknown>;
    const staging = JSON.parse(readFileSync(STAGING_ROOT_PATH, 'utf8')) as Record<string, unknown>;
    const mixed = join(home, 'untrusted-ca.json');
    writeFileSync(
      mixed,
      JSON.stringify({ ...prod, certificateAuthorities: staging['certificateAuthorities'] }),
    );
    const r = await run([`--trusted-root=${mixed}`, ...kubewardenIdentity, at(kubewarden.digest)]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /\[SIGSTORE_CERTIFICATE_UNTRUSTED\]: none of 1 signature\(s\) is valid: certificate is not trusted/,
    );
  });

  test('unsigned: exit 1, NO_SIGNATURES, where it looked', async () => {
    const r = await run([root, ...kubewardenIdentity, at(`sha256:${'1'.repeat(64)}`)]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /\[NO_SIGNATURES\]: no signatures found \(looked in the referrers fallback tag \(the registry has no referrers API\) and the legacy \.sig tag, in 127\.0\.0\.1:\d+\/cli\/app\)/,
    );
  });

  test('--signature-repository (and COSIGN_REPOSITORY) point at signatures stored elsewhere', async () => {
    const image = `${registry.host}/cli/elsewhere@${fulcioRekor.digest}`;
    const identity = [
      `--certificate-identity=${fulcioRekor.subject}`,
      `--certificate-oidc-issuer=${fulcioRekor.issuer}`,
    ];
    assert.equal((await run([root, ...identity, image])).code, 1);
    const flag = await run([root, ...identity, `--signature-repository=${registry.host}/cli/app`, image]);
    assert.equal(flag.code, 0, flag.err);
    const env = await run([root, ...identity, image], {
      HOME: home,
      COSIGN_REPOSITORY: `${registry.host}/cli/app`,
    });
    assert.equal(env.code, 0, env.err);
  });
});

describe('keys, tags and indexes', () => {
  let signer: ReturnType<typeof testSigner>;
  let keyFile: string;
  let indexRef: string;
  let child: string;
  before(async () => {
    signer = testSigner();
    keyFile = join(home, 'cosign.pub');
    writeFileSync(keyFile, signer.publicKey.export({ type: 'spki', format: 'pem' }));
    const r = { registry: registry.host, repository: 'cli/multi' };
    const index = await pushTestIndex(client, r, { tag: 'v1' });
    await pushLegacySignature(client, r, index.digest, [
      signer.layerFor(index.digest, `${r.registry}/${r.repository}`),
    ]);
    indexRef = `${r.registry}/${r.repository}:v1`;
    child = index.images[0]!.digest;
  });

  test('--key with --insecure-ignore-tlog, IMAGE by tag (resolved to its digest)', async () => {
    const r = await run([`--key=${keyFile}`, '--insecure-ignore-tlog', root, indexRef]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /signed with key /);
    const strict = await run([`--key=${keyFile}`, root, indexRef]);
    assert.equal(strict.code, 1);
    assert.match(strict.err, /\[SIGSTORE_TLOG_INVALID\]/);
  });

  test('--platform admits one platform; --accept-index-signature lets the index signature count', async () => {
    const base = [`--key=${keyFile}`, '--insecure-ignore-tlog', root, '--platform=linux/amd64'];
    const alone = await run([...base, indexRef]);
    assert.equal(alone.code, 1);
    assert.match(alone.err, new RegExp(`NOT VERIFIED .*@${child} \\[NO_SIGNATURES\\]`));
    const via = await run([...base, '--accept-index-signature', indexRef]);
    assert.equal(via.code, 0, via.err);
    assert.match(via.out, /signed through the index/);
    const platforms = await run([
      `--key=${keyFile}`,
      '--insecure-ignore-tlog',
      root,
      '--require-platform-signatures',
      indexRef,
    ]);
    assert.equal(platforms.code, 1);
    assert.match(platforms.err, /\[PLATFORM_NOT_SIGNED\]/);
    const either = await run([
      `--key=${keyFile}`,
      '--insecure-ignore-tlog',
      root,
      '--accept-platform-signatures',
      indexRef,
    ]);
    assert.equal(either.code, 0, either.err);
    const two = await run([
      `--key=${keyFile}`,
      root,
      '--accept-platform-signatures',
      '--require-platform-signatures',
      indexRef,
    ]);
    assert.match(
      two.err,
      /use one of --accept-index-signature, --require-platform-signatures, --accept-platform-signatures/,
    );
  });
  test('--require-platform-signatures: an index with no runnable platform exits 1, never verified', async () => {
    const r = { registry: registry.host, repository: 'cli/attestations-only' };
    const attestation = await pushTestImage(client, r, {
      platform: { os: 'unknown', architecture: 'unknown' },
    });
    const manifests = [{ ...attestation.descriptor, platform: attestation.platform }];
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
    await client.pushManifest(r, bytes, OCI_INDEX, { tag: 'v1' });
    const digest = (await client.resolve({ ...r, tag: 'v1' })).digest;
    await pushLegacySignature(client, r, digest, [signer.layerFor(digest, `${r.registry}/${r.repository}`)]);
    const refused = await run([
      `--key=${keyFile}`,
      '--insecure-ignore-tlog',
      root,
      '--require-platform-signatures',
      `${r.registry}/${r.repository}:v1`,
    ]);
    assert.equal(refused.code, 1, refused.out);
    assert.match(
      refused.err,
      /^NOT VERIFIED .*@sha256:[0-9a-f]{64} \[INDEX_WITHOUT_PLATFORMS\]: the index lists only 1 manifest\(s\) of platform unknown\/unknown \(attestations\): no runnable platform whose signature could be checked$/m,
    );
  });
});

describe('registries and usage', () => {
  test('a registry failure says so, with its code, never "unsigned"', async () => {
    const proxy = await startFaultProxy({ upstream: registry.url });
    try {
      proxy.addFault({ path: /\.sig$/, fault: { kind: 'reset' } });
      const r = await run([root, ...kubewardenIdentity, `${proxy.host}/cli/app@${fulcioRekor.digest}`]);
      assert.equal(r.code, 1);
      assert.match(
        r.err,
        /^COULD NOT VERIFY .* \[REGISTRY_UNAVAILABLE\]: registry failure while looking for its signatures, so whether it is signed is unknown/,
      );
      assert.doesNotMatch(r.err, /NO_SIGNATURES/);
    } finally {
      await proxy.close();
    }
  });

  test('--allow-insecure-registry: plain HTTP to a registry that is not on loopback', async (t) => {
    const address = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
    if (address === undefined) return t.skip('this machine has no non-loopback IPv4 address');
    // A registry with nothing in it, over plain HTTP: every lookup is a definite 404.
    const server = createServer((_, response) => {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}');
    });
    await new Promise<void>((resolve) => server.listen(0, address, resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const image = `${address}:${port}/cli/app@${kubewarden.digest}`;
      const https = await run([root, ...kubewardenIdentity, image]);
      assert.equal(https.code, 1);
      assert.match(https.err, /\[REGISTRY_TLS\]/, 'without the flag sigward speaks TLS, and fails');
      const plain = await run([
        root,
        ...kubewardenIdentity,
        `--allow-insecure-registry=${address}:${port}`,
        image,
      ]);
      assert.equal(plain.code, 1);
      assert.match(plain.err, /\[NO_SIGNATURES\]/, 'with it, plain HTTP reaches the (empty) registry');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('credentials come from the docker config file (DOCKER_CONFIG)', async () => {
    const locked = await startDockerRegistry({ auth: { kind: 'htpasswd', users: { alice: 'wonderland' } } });
    try {
      const pusher = new RegistryClient({
        keychain: staticKeychain({
          [locked.host]: { kind: 'basic', username: 'alice', password: 'wonderland' },
        }),
      });
      const r = { registry: locked.host, repository: 'cli/private' };
      await pushLegacySignature(pusher, r, fulcioRekor.digest, [fulcioRekor.layer()]);
      await pusher.close();
      const identity = [
        `--certificate-identity=${fulcioRekor.subject}`,
        `--certificate-oidc-issuer=${fulcioRekor.issuer}`,
      ];
      const image = `${locked.host}/cli/private@${fulcioRekor.digest}`;
      const anonymous = await run([root, ...identity, image]);
      assert.equal(anonymous.code, 1);
      assert.match(anonymous.err, /\[REGISTRY_UNAUTHORIZED\]/);
      const dockerConfig = mkdtempSync(join(home, 'docker-'));
      const auth = Buffer.from('alice:wonderland').toString('base64');
      writeFileSync(
        join(dockerConfig, 'config.json'),
        JSON.stringify({ auths: { [locked.host]: { auth } } }),
      );
      const withCredentials = await run([root, ...identity, image], {
        HOME: home,
        DOCKER_CONFIG: dockerConfig,
      });
      assert.equal(withCredentials.code, 0, withCredentials.err);
      assert.doesNotMatch(withCredentials.out + withCredentials.err, /wonderland|YWxpY2U6/);
    } finally {
      await locked.stop();
    }
  });

  test('usage errors: no authority, key with identity, half a TUF setting', async () => {
    const image = at(kubewarden.digest);
    const none = await run([root, image]);
    assert.equal(none.code, 1);
    assert.match(none.err, /give --key, or --certificate-identity and --certificate-oidc-issuer/);
    const both = await run([root, '--key=k.pem', ...kubewardenIdentity, image]);
    assert.match(both.err, /use --key or the --certificate-\* options, not both/);
    const tuf = await run(['--tuf-mirror=http://127.0.0.1:9', ...kubewardenIdentity, image]);
    assert.match(tuf.err, /--tuf-mirror and --tuf-root go together/);
    const issuerOnly = await run([root, `--certificate-oidc-issuer=${kubewarden.issuer}`, image]);
    assert.equal(issuerOnly.code, 1);
    assert.match(
      issuerOnly.err,
      /--certificate-identity: one of --certificate-identity or --certificate-identity-regexp is required/,
    );
    const badRegexp = await run([
      root,
      '--certificate-identity-regexp=(',
      `--certificate-oidc-issuer=${kubewarden.issuer}`,
      image,
    ]);
    assert.match(badRegexp.err, /--certificate-identity-regexp: invalid regular expression "\("/);
    const unknown = await run([root, ...kubewardenIdentity, '--certificate-extension=repo=x', image]);
    assert.match(unknown.err, /--certificate-extension repo: unknown Fulcio extension "repo"/);
  });
});
