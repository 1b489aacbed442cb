// Paths into ../shared/ext (real upstream test vectors, see shared/ext/SOURCES.md) and loaders for the
// shapes they come in. Test support only.
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTrustRoot } from '../../src/sigstore/trusted-root.ts';
import type { TrustRootSnapshot } from '../../src/sigstore/trusted-root.ts';
import type { LegacyLayer } from '../../src/sigstore/legacy.ts';
import { parseBundle } from '../../src/sigstore/bundle.ts';
import type { Bundle } from '../../src/sigstore/bundle.ts';
import type { TrustMaterial } from '@sigstore/verify';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const EXT = resolve(REPO_ROOT, '../shared/ext');
export const ext = (...parts: string[]): string => join(EXT, ...parts);

export const PROD_ROOT_PATH = ext(
  'sigstore-python/sigstore/_store/tuf-repo-cdn.sigstore.dev/trusted_root.json',
);
export const STAGING_ROOT_PATH = ext(
  'sigstore-python/sigstore/_store/tuf-repo-cdn.sigstage.dev/trusted_root.json',
);

let prod: TrustRootSnapshot | undefined;
export function prodRoot(): TrustRootSnapshot {
  prod ??= loadTrustRoot(readFileSync(PROD_ROOT_PATH), 'test:prod');
  return prod;
}
export function stagingRoot(): TrustRootSnapshot {
  return loadTrustRoot(readFileSync(STAGING_ROOT_PATH), 'test:staging');
}

export function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function publicKey(path: string): KeyObject {
  return createPublicKey(readFileSync(path));
}

/** containers/image on-disk cosign signature: `\0sigstore-json\n` + {mimeType, payload, annotations}. */
export function containersImageSignature(path: string): LegacyLayer {
  const raw = readFileSync(path);
  const prefix = Buffer.from('\x00sigstore-json\n');
  if (!raw.subarray(0, prefix.length).equals(prefix))
    throw new Error(`${path} is not a sigstore-json signature`);
  const json = JSON.parse(raw.subarray(prefix.length).toString('utf8')) as {
    mimeType: string;
    payload: string;
    annotations: Record<string, string>;
  };
  return {
    mediaType: json.mimeType,
    annotations: json.annotations,
    blob: Buffer.from(json.payload, 'base64'),
  };
}

export const CONNAISSEUR = ext('connaisseur/test/testdata/cosign');
export const CONNAISSEUR_IMAGE = join(CONNAISSEUR, 'securesystemsengineering/testimage');

/** Every layer of a connaisseur `sha256-<hex>.sig.json` manifest, with its blob from blobs/. */
export function connaisseurLayers(imageDigest: string): LegacyLayer[] {
  const manifest = readJson(
    join(CONNAISSEUR_IMAGE, 'manifests', `${imageDigest.replace(':', '-')}.sig.json`),
  ) as {
    layers: Array<{ mediaType: string; digest: string; annotations: Record<string, string> }>;
  };
  return manifest.layers.map((l) => ({
    mediaType: l.mediaType,
    annotations: l.annotations,
    blob: readFileSync(join(CONNAISSEUR_IMAGE, 'blobs', `${l.digest}.json`)),
  }));
}

export function connaisseurImageDigest(manifestName: string): string {
  return sha256Digest(readFileSync(join(CONNAISSEUR_IMAGE, 'manifests', manifestName)));
}

/** Every DER certificate and RFC 3161 token the conformance bundles and their trusted roots carry. */
export function derVectors(): { certificates: Buffer<ArrayBuffer>[]; timestamps: Buffer<ArrayBuffer>[] } {
  const cases = ext('sigstore-conformance/bundle-verify');
  const certificates: Buffer<ArrayBuffer>[] = [];
  const timestamps: Buffer<ArrayBuffer>[] = [];
  for (const name of readdirSync(cases)) {
    for (const file of ['bundle.sigstore.json', 'trusted_root.json']) {
      const path = join(cases, name, file);
      if (!existsSync(path)) continue;
      const text = readFileSync(path, 'utf8').replace(/\s+/g, '');
      for (const m of text.matchAll(/"rawBytes":"([A-Za-z0-9+/=]+)"/g))
        certificates.push(Buffer.from(m[1]!, 'base64'));
      for (const m of text.matchAll(/"signedTimestamp":"([A-Za-z0-9+/=]+)"/g))
        timestamps.push(Buffer.from(m[1]!, 'base64'));
    }
  }
  return { certificates, timestamps };
}

const CONFORMANCE_BUNDLES = ext('sigstore-conformance/bundle-verify');
const conformanceRoots = new Map<string, TrustRootSnapshot | undefined>();
/** One snapshot per trusted_root.json, shared by every case and call (so remembered checks are warm). */
function conformanceRoot(path: string): TrustRootSnapshot | undefined {
  if (!conformanceRoots.has(path)) {
    try {
      conformanceRoots.set(path, loadTrustRoot(readFileSync(path), path));
    } catch {
      conformanceRoots.set(path, undefined); // a root sigward refuses (a _fail case)
    }
  }
  return conformanceRoots.get(path);
}

export interface ConformanceBundleCase {
  readonly name: string;
  readonly bundle: Bundle;
  readonly artifact: Buffer;
  readonly trust: TrustMaterial;
}

/**
 * The sigstore-conformance bundle-verify cases sigward can read: a bundle it parses, a root it loads
 * (the case's own or the public-good one), the artifact, and the case's public key when it has one.
 */
export function conformanceBundleCases(): ConformanceBundleCase[] {
  const cases: ConformanceBundleCase[] = [];
  for (const name of readdirSync(CONFORMANCE_BUNDLES).sort()) {
    const dir = join(CONFORMANCE_BUNDLES, name);
    if (!existsSync(join(dir, 'bundle.sigstore.json'))) continue;
    const own = join(dir, 'trusted_root.json');
    const root = conformanceRoot(existsSync(own) ? own : PROD_ROOT_PATH);
    if (root === undefined) continue;
    let bundle: Bundle;
    try {
      bundle = parseBundle(readFileSync(join(dir, 'bundle.sigstore.json')));
    } catch {
      continue; // refused before any verifier sees it
    }
    const artifact = readFileSync(
      existsSync(join(dir, 'artifact')) ? join(dir, 'artifact') : join(CONFORMANCE_BUNDLES, 'a.txt'),
    );
    let trust: TrustMaterial = root.material;
    if (existsSync(join(dir, 'key.pub'))) {
      let key: KeyObject;
      try {
        key = createPublicKey(readFileSync(join(dir, 'key.pub')));
      } catch {
        continue; // a key node:crypto cannot read (a _fail case)
      }
      trust = { ...trust, publicKey: () => ({ publicKey: key, validFor: () => true }) };
    }
    cases.push({ name, bundle, artifact, trust });
  }
  return cases;
}
