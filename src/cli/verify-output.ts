// `sigward verify` for a person: what verified and who signed it, or why each signature failed.
import type { ImageVerdict } from '../sigstore/verify-image.ts';

function describeSigner(outcome: ImageVerdict['signatures'][number]): string {
  if (!outcome.verified) return `[${outcome.code}] ${outcome.reason}`;
  if (outcome.signer.kind === 'key') return `signed with ${outcome.authorities.join(', ')}`;
  const extensions = Object.entries(outcome.signer.extensions)
    .filter(([name]) => name !== 'issuer' && name !== 'issuerV1')
    .map(([name, value]) => `\n      ${name}: ${value}`)
    .join('');
  return `issuer ${outcome.signer.issuer ?? '(none)'}, subject ${outcome.signer.subject ?? '(none)'}${extensions}`;
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
  const head = `${headings[verdict.status]} ${verdict.image}${code}: ${verdict.message}`;
  const lines = [`${indent}${head}`];
  for (const s of verdict.signatures) {
    lines.push(`${indent}  ${s.verified ? 'ok  ' : 'FAIL'} ${where(s)}: ${describeSigner(s)}`);
  }
  if (verdict.index !== undefined) lines.push(renderVerdict(verdict.index, `${indent}  index: `).trimEnd());
  for (const p of verdict.platforms ?? [])
    lines.push(renderVerdict(p, `${indent}  ${p.platform}: `).trimEnd());
  return `${lines.join('\n')}\n`;
}
