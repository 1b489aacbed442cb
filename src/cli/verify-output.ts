// `sigward verify` for a person: what verified and who signed it, or why each signature failed.
// Certificate fields and reasons are the signer's words: shown without control characters, so a
// signature cannot move the cursor, recolour the terminal or forge an `ok` line (a newline).
import { clip } from '../policy/decision.ts';
import type { ImageVerdict } from '../sigstore/verify-image.ts';

/** One value on one line: control characters (newlines included) shown as `?`, at most 2,000 characters. */
const shown = (text: string): string => clip(text, 2000);

function describeSigner(outcome: ImageVerdict['signatures'][number]): string {
  if (!outcome.verified) return `[${outcome.code}] ${shown(outcome.reason)}`;
  if (outcome.signer.kind === 'key') return `signed with ${shown(outcome.authorities.join(', '))}`;
  const extensions = Object.entries(outcome.signer.extensions)
    .filter(([name]) => name !== 'issuer' && name !== 'issuerV1')
    .map(([name, value]) => `\n      ${name}: ${shown(String(value))}`)
    .join('');
  return `issuer ${shown(outcome.signer.issuer ?? '(none)')}, subject ${shown(outcome.signer.subject ?? '(none)')}${extensions}`;
}

const sourceNames = {
  'referrers-api': 'referrer (API)',
  'fallback-tag': 'referrer (fallback tag)',
  'legacy-tag': 'legacy .sig',
} as const;

/** Where the signature sits, short: the manifest digest is enough to find it (JSON has the tag). */
function where(outcome: ImageVerdict['signatures'][number]): string {
  const l = outcome.location;
  return `${sourceNames[l.source]} ${l.manifest.slice(0, 19)}… layer ${l.layer}`;
}

const headings = {
  verified: 'Verified',
  rejected: 'NOT VERIFIED',
  unsigned: 'NOT VERIFIED',
  error: 'COULD NOT VERIFY',
} as const;

/** The verdict for a person: what verified and who signed it, or why each signature failed. */
export function renderVerdict(verdict: ImageVerdict, indent = ''): string {
  const code = verdict.status === 'verified' ? '' : ` [${verdict.code}]`;
  const head = `${headings[verdict.status]} ${verdict.image}${code}: ${shown(verdict.message)}`;
  const lines = [`${indent}${head}`];
  for (const s of verdict.signatures) {
    lines.push(`${indent}  ${s.verified ? 'ok  ' : 'FAIL'} ${where(s)}: ${describeSigner(s)}`);
  }
  if (verdict.index !== undefined) lines.push(renderVerdict(verdict.index, `${indent}  index: `).trimEnd());
  for (const p of verdict.platforms ?? [])
    lines.push(renderVerdict(p, `${indent}  ${shown(p.platform)}: `).trimEnd());
  return `${lines.join('\n')}\n`;
}
