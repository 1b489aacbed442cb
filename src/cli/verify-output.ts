// `sigward verify` for a person: what verified and who signed it, or why each signature failed.
import type { ImageVerdict } from '../sigstore/verify-image.ts';

function describeSigner(outcome: ImageVerdict['signatures'][number]): string {
  if (!outcome.verified) return `[${outcome.code}] ${outcome.reason}`;
  if (outcome.signer.kind === 'key') return `signed with ${outcome.authority}`;
  const extensions = Object.entries(outcome.signer.extensions)
    .filter(([name]) => name !== 'issuer' && name !== 'issuerV1')
    .map(([name, value]) => `\n      ${name}: ${value}`)
    .join('');
  return `issuer ${outcome.signer.issuer ?? '(none)'}, subject ${outcome.signer.subject ?? '(none)'}${extensions}`;
}

function where(outcome: ImageVerdict['signatures'][number]): string {
  const l = outcome.location;
  const tag = l.tag === undefined ? '' : ` tag ${l.tag}`;
  return `${l.source}${tag} ${l.manifest.slice(0, 19)}… layer ${l.layer}`;
}

/** The verdict for a person: what verified and who signed it, or why each signature failed. */
export function renderVerdict(verdict: ImageVerdict, indent = ''): string {
  const head =
    verdict.status === 'verified'
      ? `Verified ${verdict.image}: ${verdict.message}`
      : verdict.status === 'error'
        ? `NOT VERIFIED ${verdict.image} [${verdict.code}]: ${verdict.message}`
        : `NOT VERIFIED ${verdict.image} [${verdict.code}]: ${verdict.message}`;
  const lines = [`${indent}${head}`];
  for (const s of verdict.signatures) {
    lines.push(`${indent}  ${s.verified ? 'ok  ' : 'FAIL'} ${where(s)}: ${describeSigner(s)}`);
  }
  if (verdict.index !== undefined) lines.push(renderVerdict(verdict.index, `${indent}  index: `).trimEnd());
  for (const p of verdict.platforms ?? [])
    lines.push(renderVerdict(p, `${indent}  ${p.platform}: `).trimEnd());
  return `${lines.join('\n')}\n`;
}
