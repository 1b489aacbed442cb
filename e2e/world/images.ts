// Test images, synthesised offline with crane (nothing can be pulled in the world): each image gets a
// layer of random bytes, so no two tests ever share a digest (and so a cached verdict or a stray
// signature of another test can never make a test pass).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ToolRunner } from './clients.ts';
import { WorldError } from './errors.ts';
import { tarOf } from './layer-tar.ts';

export interface ImageTools {
  crane: ToolRunner;
  /** Where layer tarballs are written (a run-dir subdirectory). */
  workDir: string;
}

export interface PlatformImage {
  /** `linux/amd64`, `linux/arm64/v8` */
  platform: string;
  digest: string;
}

export interface PushedImage {
  /** `<host>/<repository>:<tag>` */
  ref: string;
  /** `<host>/<repository>@<digest>` */
  byDigest: string;
  host: string;
  repository: string;
  tag: string;
  digest: string;
  /** For an index: each platform's image, in the order given. */
  platforms?: PlatformImage[];
}

export interface ImageOptions {
  /** Set the config's os/architecture (a single-platform image has none otherwise). */
  platform?: string;
  /** OCI media types (default) or Docker v2 schema 2. */
  format?: 'oci' | 'docker';
}

const digestPattern = /^sha256:[0-9a-f]{64}$/;

async function digestOf(crane: ToolRunner, ref: string): Promise<string> {
  const digest = (await crane(['digest', ref])).stdout.trim();
  if (!digestPattern.test(digest))
    throw new WorldError('IMAGE_DIGEST', `crane digest ${ref} printed ${digest}`);
  return digest;
}

function randomLayer(workDir: string): string {
  const id = randomBytes(8).toString('hex');
  const file = path.join(workDir, `layer-${id}.tar`);
  writeFileSync(file, tarOf([{ name: `sigward-e2e/${id}.bin`, content: randomBytes(256) }]));
  return file;
}

function described(host: string, repository: string, tag: string, digest: string): PushedImage {
  return {
    ref: `${host}/${repository}:${tag}`,
    byDigest: `${host}/${repository}@${digest}`,
    host,
    repository,
    tag,
    digest,
  };
}

/** A single-platform image with one unique layer, pushed as `<host>/<repository>:<tag>`. */
export async function pushImage(
  tools: ImageTools,
  host: string,
  repository: string,
  tag: string,
  options: ImageOptions = {},
): Promise<PushedImage> {
  const ref = `${host}/${repository}:${tag}`;
  const args = ['append', '-f', randomLayer(tools.workDir), '-t', ref];
  if ((options.format ?? 'oci') === 'oci') args.push('--oci-empty-base');
  await tools.crane(args);
  if (options.platform !== undefined) await tools.crane(['mutate', ref, '--set-platform', options.platform]);
  return described(host, repository, tag, await digestOf(tools.crane, ref));
}

/**
 * A multi-platform index: one unique image per platform (each also tagged `<tag>-<os>-<arch>`), then
 * `crane index append` of them all under `<tag>`.
 */
export async function pushIndex(
  tools: ImageTools,
  host: string,
  repository: string,
  tag: string,
  platforms: readonly string[] = ['linux/amd64', 'linux/arm64'],
  options: Pick<ImageOptions, 'format'> = {},
): Promise<PushedImage> {
  const images: PlatformImage[] = [];
  for (const platform of platforms) {
    const platformTag = `${tag}-${platform.replace(/\//g, '-')}`;
    const image = await pushImage(tools, host, repository, platformTag, { ...options, platform });
    images.push({ platform, digest: image.digest });
  }
  const ref = `${host}/${repository}:${tag}`;
  const args = ['index', 'append', '-t', ref];
  for (const image of images) args.push('-m', `${host}/${repository}@${image.digest}`);
  if ((options.format ?? 'oci') === 'docker') args.push('--docker-empty-base');
  await tools.crane(args);
  return { ...described(host, repository, tag, await digestOf(tools.crane, ref)), platforms: images };
}
