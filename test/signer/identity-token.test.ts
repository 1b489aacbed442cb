// Identity token sources: the documented order, explicit selection, re-reading token files, the GitHub
// Actions endpoint, and that a token never appears in an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SigwardError } from '../../src/errors.ts';
import { availableProviders, selectProvider } from '../../src/signer/identity-token.ts';
import { checkClaims, proofSubject, readClaims } from '../../src/signer/token-claims.ts';

function jwt(claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part(claims)}.c2lnbmF0dXJl`;
}

const later = () => Math.floor(Date.now() / 1000) + 600;
const saToken = (sa: string, aud: unknown = ['sigstore'], exp = later()) =>
  jwt({ iss: 'https://kubernetes.default.svc', sub: `system:serviceaccount:ci:${sa}`, aud, exp });

const dir = mkdtempSync(path.join(tmpdir(), 'sigward-tokens-'));
const file = (name: string, content: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
};
const noFile = path.join(dir, 'absent');

const codeOf = (e: unknown) => (e instanceof SigwardError ? e.code : String(e));

test('order: --identity-token, then SIGSTORE_ID_TOKEN, then GitHub Actions, then the Kubernetes token file', async () => {
  const k8s = file('k8s', saToken('from-file'));
  const env = {
    SIGSTORE_ID_TOKEN: saToken('from-env'),
    ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/token?api-version=2.0',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token',
  };
  const all = availableProviders({ identityToken: saToken('from-flag'), env, kubernetesTokenPath: k8s });
  assert.deepEqual(
    all.map((p) => p.name),
    ['identity-token', 'env', 'github-actions', 'kubernetes'],
  );
  assert.equal(
    selectProvider({ identityToken: saToken('from-flag'), env, kubernetesTokenPath: k8s }).name,
    'identity-token',
  );
  assert.equal(selectProvider({ env, kubernetesTokenPath: k8s }).name, 'env');
  assert.equal(
    selectProvider({ env: { ...env, SIGSTORE_ID_TOKEN: '' }, kubernetesTokenPath: k8s }).name,
    'github-actions',
  );
  const onlyFile = selectProvider({ env: {}, kubernetesTokenPath: k8s });
  assert.equal(onlyFile.name, 'kubernetes');
  assert.equal(readClaims(await onlyFile.getToken(), 'test').subject, 'system:serviceaccount:ci:from-file');
});

test('GitLab CI: SIGSTORE_ID_TOKEN is named gitlab, and --oidc-provider env also finds it', () => {
  const env = { SIGSTORE_ID_TOKEN: saToken('gl'), GITLAB_CI: 'true' };
  assert.equal(selectProvider({ env, kubernetesTokenPath: noFile }).name, 'gitlab');
  assert.equal(
    selectProvider({ env, provider: 'gitlab', kubernetesTokenPath: noFile }).source,
    "GitLab CI's SIGSTORE_ID_TOKEN",
  );
  assert.equal(selectProvider({ env, provider: 'env', kubernetesTokenPath: noFile }).name, 'gitlab');
});

test('explicit selection skips the others, and fails when the one named is not there', async () => {
  const k8s = file('k8s-explicit', saToken('k8s'));
  const env = { SIGSTORE_ID_TOKEN: saToken('env') };
  const chosen = selectProvider({ env, provider: 'kubernetes', kubernetesTokenPath: k8s });
  assert.equal(readClaims(await chosen.getToken(), 't').subject, 'system:serviceaccount:ci:k8s');
  assert.throws(
    () => selectProvider({ env: {}, provider: 'github-actions', kubernetesTokenPath: k8s }),
    (e) => {
      assert.equal(codeOf(e), 'SIGNER_TOKEN_MISSING');
      assert.match((e as Error).message, /ACTIONS_ID_TOKEN_REQUEST_URL/);
      return true;
    },
  );
  // Named explicitly, a missing Kubernetes file is reported when read, with its path.
  const missing = selectProvider({ env, provider: 'kubernetes', kubernetesTokenPath: noFile });
  await assert.rejects(missing.getToken(), (e) => {
    assert.equal(codeOf(e), 'SIGNER_TOKEN_MISSING');
    assert.ok((e as Error).message.includes(noFile));
    return true;
  });
  assert.throws(() => selectProvider({ env: {}, kubernetesTokenPath: noFile }), /no identity token/);
});

test('token files are read again on every use (the kubelet rotates projected tokens)', async () => {
  const k8s = file('rotating', saToken('first'));
  const provider = selectProvider({ env: {}, kubernetesTokenPath: k8s });
  assert.equal(readClaims(await provider.getToken(), 't').subject, 'system:serviceaccount:ci:first');
  writeFileSync(k8s, `${saToken('second')}\n`);
  assert.equal(readClaims(await provider.getToken(), 't').subject, 'system:serviceaccount:ci:second');

  const flagFile = file('flag-file', saToken('one'));
  const fromFlag = selectProvider({ env: {}, identityToken: flagFile, kubernetesTokenPath: noFile });
  assert.equal(fromFlag.source, `--identity-token file ${flagFile}`);
  writeFileSync(flagFile, saToken('two'));
  assert.equal(readClaims(await fromFlag.getToken(), 't').subject, 'system:serviceaccount:ci:two');
  writeFileSync(flagFile, '  \n');
  await assert.rejects(fromFlag.getToken(), /is empty/);
});

test('--identity-token that is neither a JWT nor a file: an error that does not repeat the value', () => {
  const secret = 'ghp_notAJwtButSecret123456';
  assert.throws(
    () => selectProvider({ env: {}, identityToken: secret, kubernetesTokenPath: noFile }),
    (e) => {
      assert.equal(codeOf(e), 'SIGNER_TOKEN_MISSING');
      assert.ok(!(e as Error).message.includes(secret));
      return true;
    },
  );
});

async function withServer(handler: http.RequestListener, run: (url: string) => Promise<void>): Promise<void> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  try {
    await run(`http://127.0.0.1:${port}/token?api-version=2.0`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

test('GitHub Actions: asks the ID-token endpoint for audience sigstore with the request token', async () => {
  const issued = jwt({
    iss: 'https://token.actions.githubusercontent.com',
    sub: 'repo:o/r:ref:refs/heads/main',
    aud: 'sigstore',
    exp: later(),
  });
  const seen: { url?: string; authorization?: string } = {};
  await withServer(
    (req, res) => {
      seen.url = req.url;
      seen.authorization = req.headers.authorization;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ value: issued }));
    },
    async (url) => {
      const provider = selectProvider({
        env: { ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req-secret-123' },
        kubernetesTokenPath: noFile,
      });
      assert.equal(await provider.getToken(), issued);
    },
  );
  assert.equal(seen.url, '/token?api-version=2.0&audience=sigstore');
  assert.equal(seen.authorization, 'bearer req-secret-123');
});

test('GitHub Actions: a refusal names the status, never the request token or what the server echoed', async () => {
  await withServer(
    (req, res) => {
      res.statusCode = 403;
      res.end(`denied for ${req.headers.authorization}`);
    },
    async (url) => {
      const provider = selectProvider({
        env: { ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req-secret-456' },
        kubernetesTokenPath: noFile,
      });
      await assert.rejects(provider.getToken(), (e) => {
        assert.match((e as Error).message, /HTTP 403.*id-token: write/);
        assert.ok(
          !JSON.stringify(e).includes('req-secret-456') && !(e as Error).message.includes('req-secret-456'),
        );
        return true;
      });
    },
  );
});

test(
  'GitHub Actions: an endpoint that never answers is given up after the request timeout',
  { timeout: 20_000 },
  async () => {
    // The server takes the request and never replies (held until the test ends).
    const held: http.ServerResponse[] = [];
    await withServer(
      (_req, res) => void held.push(res),
      async (url) => {
        const provider = selectProvider({
          env: { ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req-secret-789' },
          kubernetesTokenPath: noFile,
          requestTimeoutMs: 200,
        });
        await assert.rejects(provider.getToken(), (e) => {
          assert.equal(codeOf(e), 'SIGNER_TOKEN_MISSING');
          assert.match((e as Error).message, /ID-token endpoint did not answer within 0\.2 s/);
          return true;
        });
        assert.equal(held.length, 1);
        for (const res of held) res.destroy();
      },
    );
  },
);

test('claims: expired and wrong-audience tokens are refused with the claim, never the token', () => {
  const expired = saToken('old', ['sigstore'], Math.floor(Date.now() / 1000) - 5);
  assert.throws(
    () => checkClaims(expired, { audience: 'sigstore', source: 'the file' }),
    (e) => {
      assert.equal(codeOf(e), 'SIGNER_TOKEN_EXPIRED');
      assert.match((e as Error).message, /the identity token from the file expired at \d{4}-/);
      assert.ok(!(e as Error).message.includes(expired));
      return true;
    },
  );
  const other = saToken('x', 'vault');
  assert.throws(
    () => checkClaims(other, { audience: 'sigstore', source: 'the file' }),
    (e) => {
      assert.equal(codeOf(e), 'SIGNER_TOKEN_AUDIENCE');
      assert.match((e as Error).message, /audience "vault", but Fulcio expects "sigstore"/);
      assert.ok(!(e as Error).message.includes(other));
      return true;
    },
  );
  assert.throws(
    () => checkClaims('not.a-jwt', { audience: 'sigstore', source: 's' }),
    /SIGNER|not a JWT|payload/,
  );
  const ok = checkClaims(saToken('fine'), { audience: 'sigstore', source: 's' });
  assert.equal(proofSubject(ok), 'system:serviceaccount:ci:fine');
  const withEmail = checkClaims(jwt({ iss: 'i', sub: 's', email: 'a@b.c', aud: 'sigstore' }), {
    audience: 'sigstore',
    source: 's',
  });
  assert.equal(proofSubject(withEmail), 'a@b.c');
});
