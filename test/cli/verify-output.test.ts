// `sigward verify`'s text for a person: certificate fields, reasons and platform names come from
// whoever signed or serves the image, so none of them may reach the terminal as control characters
// (escape sequences, or a newline forging an `ok` line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderVerdict } from '../../src/cli/verify-output.ts';
import type { ImageVerdict } from '../../src/sigstore/verify-image.ts';

const digest = `sha256:${'a'.repeat(64)}`;
const location = {
  source: 'referrers-api',
  repository: 'r.example/app',
  manifest: digest,
  layer: 0,
} as const;
const ESC = '\u001b';
const CSI = '\u009b';

const hostile: ImageVerdict = {
  image: `r.example/app@${digest}`,
  digest,
  status: 'rejected',
  code: 'IDENTITY_MISMATCH',
  message: `none of 2 signature(s) is valid: ${CSI}2J`,
  signatures: [
    {
      location,
      format: 'bundle',
      verified: true,
      authorities: ['keyless identity'],
      rejectedBy: [],
      signedAt: [],
      signer: {
        kind: 'certificate',
        issuer: `https://issuer.example${ESC}]8;;https://evil.example${ESC}\\`,
        subject: `me@example.com\n  ok   referrer (API) sha256:forged`,
        extensions: { githubWorkflowName: `release${ESC}[31m` },
      },
    },
    {
      location,
      format: 'legacy',
      verified: false,
      code: 'IDENTITY_SUBJECT_MISMATCH',
      reason: `found ${CSI}0m`,
    },
  ],
  platforms: [
    {
      image: `r.example/app@${digest}`,
      digest,
      status: 'unsigned',
      code: 'NO_SIGNATURES',
      message: 'no signatures found',
      signatures: [],
      platform: `linux/amd64${ESC}[2K`,
    },
  ],
};

test('no control character of a signer, a reason or a platform name reaches the terminal', () => {
  const text = renderVerdict(hostile);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  // The subject's newline did not make a line of its own: the forged `ok` text stays inside the real
  // signer's line, so there is one `ok` line, the real one.
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.filter((l) => /^\s+ok /.test(l)).length, 1);
  assert.match(text, /subject me@example\.com\? {2}ok {3}referrer \(API\) sha256:forged/);
  assert.match(text, /githubWorkflowName: release\?\[31m/);
  assert.match(text, /linux\/amd64\?\[2K: NOT VERIFIED/);
});
