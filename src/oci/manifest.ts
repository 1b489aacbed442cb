// What a descriptor, an image manifest and an index are, checked once where registry JSON enters.
// Everything past parseManifest can trust the shape; unknown fields are dropped from the typed view
// (the exact bytes stay with the caller, since they are what digests and signatures cover).
import { SigwardError, type SafeDetails } from '../errors.ts';
import { digestProblem } from './reference.ts';
import { bareMediaType, isImageManifestType, isIndexType, OCI_INDEX, OCI_MANIFEST } from './media-types.ts';

export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: Platform;
  readonly urls?: readonly string[];
}

export interface ImageManifest {
  readonly kind: 'manifest';
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type Manifest = ImageManifest | ImageIndex;

type Json = Record<string, unknown>;

class Invalid extends Error {}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(object: Json, key: string, where: string): string | undefined {
  const value = object[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Invalid(`${where}.${key} must be a string`);
  return value;
}

function stringMap(value: unknown, where: string): Readonly<Record<string, string>> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw new Invalid(`${where} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw new Invalid(`${where}.${key} must be a string`);
    out[key] = entry;
  }
  return out;
}

function platformOf(value: unknown, where: string): Platform | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw new Invalid(`${where} must be an object`);
  const architecture = optionalString(value, 'architecture', where);
  const os = optionalString(value, 'os', where);
  if (architecture === undefined || os === undefined) throw new Invalid(`${where} needs architecture and os`);
  const variant = optionalString(value, 'variant', where);
  const osVersion = optionalString(value, 'os.version', where);
  return {
    architecture,
    os,
    ...(variant === undefined ? {} : { variant }),
    ...(osVersion === undefined ? {} : { 'os.version': osVersion }),
  };
}

function descriptorOf(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw new Invalid(`${where} must be an object`);
  const mediaType = optionalString(value, 'mediaType', where);
  const digest = optionalString(value, 'digest', where);
  const size = value['size'];
  if (mediaType === undefined || mediaType.length === 0) throw new Invalid(`${where}.mediaType is missing`);
  if (digest === undefined) throw new Invalid(`${where}.digest is missing`);
  const problem = digestProblem(digest);
  if (problem !== undefined) throw new Invalid(`${where}.digest: ${problem}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new Invalid(`${where}.size must be a non-negative integer`);
  }
  const artifactType = optionalString(value, 'artifactType', where);
  const annotations = stringMap(value['annotations'], `${where}.annotations`);
  const platform = platformOf(value['platform'], `${where}.platform`);
  let urls: string[] | undefined;
  if (value['urls'] !== undefined) {
    const raw = value['urls'];
    if (!Array.isArray(raw) || !raw.every((u) => typeof u === 'string')) {
      throw new Invalid(`${where}.urls must be an array of strings`);
    }
    urls = raw as string[];
  }
  return {
    mediaType,
    digest,
    size,
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(annotations === undefined ? {} : { annotations }),
    ...(platform === undefined ? {} : { platform }),
    ...(urls === undefined ? {} : { urls }),
  };
}

function descriptorList(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw new Invalid(`${where} must be an array`);
  return value.map((entry, i) => descriptorOf(entry, `${where}[${i}]`));
}

/** The kind from the body's mediaType, else the Content-Type, else the fields present. */
function mediaTypeOf(body: Json, contentType: string | undefined): string {
  const declared = optionalString(body, 'mediaType', 'manifest');
  if (declared !== undefined) return declared;
  const header = bareMediaType(contentType);
  if (header !== undefined && (isImageManifestType(header) || isIndexType(header))) return header;
  // OCI allows mediaType to be absent; the shape then tells what it is.
  if (Array.isArray(body['manifests'])) return OCI_INDEX;
  if (isObject(body['config'])) return OCI_MANIFEST;
  throw new Invalid('the manifest has no mediaType and is neither an image manifest nor an index');
}

function manifestOf(body: unknown, contentType: string | undefined): Manifest {
  if (!isObject(body)) throw new Invalid('the manifest must be a JSON object');
  if (body['schemaVersion'] !== 2) throw new Invalid('only schemaVersion 2 manifests are supported');
  const mediaType = mediaTypeOf(body, contentType);
  const artifactType = optionalString(body, 'artifactType', 'manifest');
  const annotations = stringMap(body['annotations'], 'manifest.annotations');
  const subject =
    body['subject'] === undefined ? undefined : descriptorOf(body['subject'], 'manifest.subject');
  const common = {
    mediaType,
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(subject === undefined ? {} : { subject }),
    ...(annotations === undefined ? {} : { annotations }),
  };
  if (isIndexType(mediaType)) {
    return { kind: 'index', ...common, manifests: descriptorList(body['manifests'], 'manifest.manifests') };
  }
  if (isImageManifestType(mediaType)) {
    return {
      kind: 'manifest',
      ...common,
      config: descriptorOf(body['config'], 'manifest.config'),
      layers: descriptorList(body['layers'] ?? [], 'manifest.layers'),
    };
  }
  throw new Invalid(`unsupported manifest media type "${mediaType.slice(0, 100)}"`);
}

/** Refuses bytes that are not UTF-8; stateless (no `stream` option), so one serves every call. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses manifest bytes from a registry into a typed image manifest or index. Throws REGISTRY_PROTOCOL
 * naming the first field that is wrong.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string, details: SafeDetails = {}): Manifest {
  let body: unknown;
  try {
    body = JSON.parse(strictUtf8.decode(bytes));
  } catch (error) {
    throw new SigwardError('REGISTRY_PROTOCOL', 'the registry returned a manifest that is not JSON', {
      cause: error,
      details,
    });
  }
  try {
    return manifestOf(body, contentType);
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    throw new SigwardError(
      'REGISTRY_PROTOCOL',
      `the registry returned an invalid manifest: ${error.message}`,
      {
        details,
      },
    );
  }
}
