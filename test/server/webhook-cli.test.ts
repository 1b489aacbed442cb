// `sigward webhook` as `npm start` runs it on a fresh machine: no cluster, the sample policies, the
// embedded public-good root, a self-signed certificate (printed); it answers the sample reviews and
// stops cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../sigstore/ext.ts';

function post(
  url: string,
  ca: string,
  body: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: 'POST', ca, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('no cluster: sample policies, self-signed certificate, an explained denial, clean SIGTERM', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: '/nonexistent', HOME: '/nonexistent' };
  delete env['KUBERNETES_SERVICE_HOST'];
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'src/cli/main.ts'), 'webhook', '--listen=127.0.0.1:0', '--log-level=warn'],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const url = await listening;
  const ca = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(out)?.[0] ?? '';
  assert.ok(ca !== '', out);
  assert.match(out, /policies: 1 from files in .*examples\/policies/);
  const review = readFileSync(join(REPO_ROOT, 'examples/admission/pod-unmatched.json'), 'utf8');
  const answer = await post(`${url}/validate`, ca, review);
  assert.equal(answer.status, 200);
  const response = answer.json['response'] as { allowed: boolean; status: { message: string } };
  assert.equal(response.allowed, false);
  assert.equal(
    response.status.message,
    'image nginx:1.27 in spec.containers[0].image: no image policy matches this image (unmatched images: deny) [NO_POLICY]',
  );
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
