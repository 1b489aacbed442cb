// Bundle JSON → the library's in-memory Bundle, with every failure as SIGSTORE_BUNDLE_MALFORMED.
import {
  bundleFromJSON,
  BUNDLE_V01_MEDIA_TYPE,
  BUNDLE_V02_MEDIA_TYPE,
  BUNDLE_V03_LEGACY_MEDIA_TYPE,
  BUNDLE_V03_MEDIA_TYPE,
} from '@sigstore/bundle';
import type { Bundle } from '@sigstore/bundle';
import { SigstoreError, SigstoreErrorCode } from './errors.ts';

export type { Bundle };

/** Bundle versions sigward reads (v0.1–v0.3); anything newer is refused rather than guessed at. */
export const SUPPORTED_BUNDLE_MEDIA_TYPES: readonly string[] = [
  BUNDLE_V01_MEDIA_TYPE,
  BUNDLE_V02_MEDIA_TYPE,
  BUNDLE_V03_LEGACY_MEDIA_TYPE,
  BUNDLE_V03_MEDIA_TYPE,
];

/** Parses bundle JSON (text, bytes or an already parsed object) and validates it for its version. */
export function parseBundle(input: string | Uint8Array | object): Bundle {
  let json: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      json = JSON.parse(typeof input === 'string' ? input : utf8(input));
    } catch (cause) {
      throw new SigstoreError(SigstoreErrorCode.bundleMalformed, 'the bundle is not valid JSON', { cause });
    }
  }
  const mediaType = (json as { mediaType?: unknown } | null)?.mediaType;
  if (typeof mediaType !== 'string' || !SUPPORTED_BUNDLE_MEDIA_TYPES.includes(mediaType)) {
    throw new SigstoreError(
      SigstoreErrorCode.bundleMalformed,
      `unsupported bundle media type: ${String(mediaType)}`,
      {
        details: { mediaType: typeof mediaType === 'string' ? mediaType : undefined },
      },
    );
  }
  try {
    return bundleFromJSON(json);
  } catch (cause) {
    const fields = (cause as { fields?: unknown }).fields;
    const what = Array.isArray(fields) && fields.length > 0 ? `: invalid ${fields.join(', ')}` : '';
    throw new SigstoreError(SigstoreErrorCode.bundleMalformed, `the bundle is malformed${what}`, { cause });
  }
}

/** The bytes as text, without copying them first (a registry blob is a Buffer already). */
function utf8(bytes: Uint8Array): string {
  const view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.toString('utf8');
}
