// Test images made offline with sigward's own client: small random layers (real tar+gzip, one file
// each) and an OCI config make a single-platform image; several of those make a multi-arch index.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { RegistryClient } from '../../src/oci/client.ts';
import { digestOf } from '../../src/oci/digest.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import {
  DOCKER_CONFIG,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
} from '../../src/oci/media-types.ts';
import type { RepositoryName } from '../../src/oci/reference.ts';

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface TestImage {
  /** The manifest's descriptor: what a reference by digest resolves to. */
  readonly descriptor: Descriptor;
  readonly digest: string;
  readonly manifestBytes: Uint8Array;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly platform: Platform;
}

export interface TestIndex {
  readonly descriptor: Descriptor;
  readonly digest: string;
  readonly indexBytes: Uint8Array;
  readonly images: readonly TestImage[];
}

/** OCI media types, or Docker schema 2 (manifest, manifest list, config, layers). */
export type ImageFormat = 'oci' | 'docker';

const mediaTypesOf = (format: ImageFormat = 'oci') =>
  format === 'oci'
    ? { manifest: OCI_MANIFEST, index: OCI_INDEX, config: OCI_CONFIG, layer: OCI_LAYER_GZIP }
    : {
        manifest: DOCKER_MANIFEST,
        index: DOCKER_MANIFEST_LIST,
        config: DOCKER_CONFIG,
        layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      };

export interface ImageOptions {
  readonly tag?: string;
  readonly format?: ImageFormat;
  readonly layers?: number;
  readonly layerBytes?: number;
  readonly platform?: Platform;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A one-file ustar archive: what a layer is. */
export function tarOf(name: string, content: Uint8Array): Buffer {
  const header = Buffer.alloc(512);
  const put = (value: string, offset: number, length: number): void => {
    header.write(value.slice(0, length), offset, length, 'ascii');
  };
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(`${content.length.toString(8).padStart(11, '0')}\0`, 124, 12);
  put('00000000000\0', 136, 12);
  put('        ', 148, 8); // checksum field counts as spaces while summing
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, Buffer.from(content), padding, Buffer.alloc(1024)]);
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

/** Pushes a random single-platform image and returns its digests. */
export async function pushTestImage(
  client: RegistryClient,
  name: RepositoryName,
  options: ImageOptions = {},
): Promise<TestImage> {
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const types = mediaTypesOf(options.format);
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (let i = 0; i < (options.layers ?? 1); i++) {
    const tar = tarOf(`file-${i}.bin`, randomBytes(options.layerBytes ?? 256));
    const blob = gzipSync(tar);
    diffIds.push(digestOf(tar));
    const pushed = await client.pushBlob(name, blob);
    layers.push({ mediaType: types.layer, digest: pushed.digest, size: pushed.size });
  }
  const configBytes = json({
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant === undefined ? {} : { variant: platform.variant }),
    config: {},
    rootfs: { type: 'layers', diff_ids: diffIds },
  });
  const pushedConfig = await client.pushBlob(name, configBytes);
  const config: Descriptor = {
    mediaType: types.config,
    digest: pushedConfig.digest,
    size: pushedConfig.size,
  };
  const manifestBytes = json({
    schemaVersion: 2,
    mediaType: types.manifest,
    config,
    layers,
    ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
  });
  const pushed = await client.pushManifest(name, manifestBytes, types.manifest, {
    ...(options.tag === undefined ? {} : { tag: options.tag }),
  });
  return {
    descriptor: pushed.descriptor,
    digest: pushed.descriptor.digest,
    manifestBytes,
    config,
    layers,
    platform,
  };
}

export const defaultPlatforms: readonly Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
];

/** Pushes one image per platform (by digest) and an OCI index of them (under `tag`, if given). */
export async function pushTestIndex(
  client: RegistryClient,
  name: RepositoryName,
  options: { tag?: string; platforms?: readonly Platform[]; layerBytes?: number; format?: ImageFormat } = {},
): Promise<TestIndex> {
  const images: TestImage[] = [];
  for (const platform of options.platforms ?? defaultPlatforms) {
    images.push(
      await pushTestImage(client, name, {
        platform,
        ...(options.format === undefined ? {} : { format: options.format }),
        ...(options.layerBytes === undefined ? {} : { layerBytes: options.layerBytes }),
      }),
    );
  }
  const indexBytes = json({
    schemaVersion: 2,
    mediaType: mediaTypesOf(options.format).index,
    manifests: images.map((image) => ({ ...image.descriptor, platform: image.platform })),
  });
  const pushed = await client.pushManifest(name, indexBytes, mediaTypesOf(options.format).index, {
    ...(options.tag === undefined ? {} : { tag: options.tag }),
  });
  return { descriptor: pushed.descriptor, digest: pushed.descriptor.digest, indexBytes, images };
}
