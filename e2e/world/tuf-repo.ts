// A real, signed TUF repository serving the world's trust material, laid out like Sigstore's own
// (tuf-repo-cdn.sigstore.dev): consistent snapshots, metadata at the mirror root, targets under
// /targets/<sha256>.<name>, one ECDSA P-256 key per top-level role. Built with @tufjs/models (the
// repo-mock builder makes one version with one key and cannot publish a second).
//
// `publish()` writes the next version the way a repository does: new targets and snapshot first,
// timestamp.json last, so a client refreshing meanwhile sees the old or the new version, never a mix.
// `rootPath` is the initial root (1.root.json) for `--tuf-root`, `cosign initialize --root` and
// @sigstore/tuf's `rootPath`.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  Key,
  Metadata,
  MetaFile,
  Root,
  Signature,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
} from '@tufjs/models';
import type { RunDir } from './run-dir.ts';
import { serveDirectory, type StaticServer } from './static-server.ts';

type Role = 'root' | 'targets' | 'snapshot' | 'timestamp';
const roles: readonly Role[] = ['root', 'targets', 'snapshot', 'timestamp'];

export interface TufRepoOptions {
  /** Target name → content, e.g. trusted_root.json and signing_config.v0.2.json. */
  targets: Readonly<Record<string, string | Buffer>>;
  /** Expiry of timestamp.json (others: one year). Default: one day. */
  timestampExpires?: Date;
}

export interface TufPublish {
  /** Targets to add or replace (by name); others stay. */
  targets?: Readonly<Record<string, string | Buffer>>;
  /** Targets to drop. */
  removeTargets?: readonly string[];
  /** New keys for every role: root N+1, signed by the old and the new root key. */
  rotateKeys?: boolean;
  timestampExpires?: Date;
}

export interface TufVersions {
  root: number;
  targets: number;
  snapshot: number;
  timestamp: number;
}

export interface TufRepo {
  /** Mirror base URL (metadata at its root, targets under /targets). */
  mirrorUrl: string;
  /** The initial trusted root.json (version 1), outside the served directory. */
  rootPath: string;
  /** The served directory. */
  dir: string;
  readonly versions: TufVersions;
  /** Paths the mirror was asked for, with the status answered: `200 /timestamp.json`. */
  readonly requests: string[];
  /** Publishes the next version (bumps targets, snapshot and timestamp; root too with rotateKeys). */
  publish(change?: TufPublish): TufVersions;
  stop(): Promise<void>;
}

interface RoleKey {
  key: Key;
  privateKey: KeyObject;
}

/** Canonical JSON (OLPC, as TUF key IDs use) of an object whose leaves are all strings. */
function canonicalStrings(value: string | Record<string, unknown>): string {
  if (typeof value === 'string') return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const entries = Object.keys(value)
    .sort()
    .map((k) => `${canonicalStrings(k)}:${canonicalStrings(value[k] as string | Record<string, unknown>)}`);
  return `{${entries.join(',')}}`;
}

function newRoleKey(): RoleKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyVal = { public: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
  const meta = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: keyVal };
  const keyID = createHash('sha256').update(canonicalStrings(meta)).digest('hex');
  return { key: new Key({ keyID, keyType: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyVal }), privateKey };
}

function signerOf(roleKey: RoleKey): (data: Buffer) => Signature {
  return (data) =>
    new Signature({
      keyID: roleKey.key.keyID,
      sig: sign('sha256', data, roleKey.privateKey).toString('hex'),
    });
}

function tufTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function inOneYear(): string {
  return tufTime(new Date(Date.now() + 365 * 24 * 3600 * 1000));
}

function serialize(metadata: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer {
  return Buffer.from(JSON.stringify(metadata.toJSON()));
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const sha512 = (data: Buffer): string => createHash('sha512').update(data).digest('hex');

export async function startTufRepo(runDir: RunDir, options: TufRepoOptions): Promise<TufRepo> {
  const dir = runDir.sub('tuf/mirror');
  mkdirSync(path.join(dir, 'targets'), { recursive: true });
  const rootPath = path.join(runDir.sub('tuf'), 'root.json');

  let keys = Object.fromEntries(roles.map((role) => [role, newRoleKey()])) as Record<Role, RoleKey>;
  const versions: TufVersions = { root: 0, targets: 0, snapshot: 0, timestamp: 0 };
  const contents = new Map<string, Buffer>();

  const write = (name: string, data: Buffer): void => {
    const file = path.join(dir, name);
    writeFileSync(`${file}.tmp`, data);
    renameSync(`${file}.tmp`, file);
  };

  const writeRoot = (previousRootKey: RoleKey | undefined): void => {
    versions.root += 1;
    const root = new Root({
      version: versions.root,
      specVersion: '1.0',
      expires: inOneYear(),
      consistentSnapshot: true,
    });
    for (const role of roles) root.addKey(keys[role].key, role);
    const metadata = new Metadata(root);
    // A new root is trusted only when signed by the old root keys (threshold) and the new ones.
    if (previousRootKey) metadata.sign(signerOf(previousRootKey), true);
    metadata.sign(signerOf(keys.root), true);
    const bytes = serialize(metadata);
    write(`${versions.root}.root.json`, bytes);
    write('root.json', bytes);
  };

  const writeTopLevel = (timestampExpires: Date | undefined): void => {
    versions.targets += 1;
    const targets = new Targets({ version: versions.targets, specVersion: '1.0', expires: inOneYear() });
    for (const [name, data] of contents) {
      const hashes = { sha256: sha256(data), sha512: sha512(data) };
      targets.addTarget(new TargetFile({ path: name, length: data.length, hashes }));
      write(`targets/${hashes.sha256}.${name}`, data);
      write(`targets/${hashes.sha512}.${name}`, data);
    }
    const targetsMeta = new Metadata(targets);
    targetsMeta.sign(signerOf(keys.targets));
    const targetsBytes = serialize(targetsMeta);
    write(`${versions.targets}.targets.json`, targetsBytes);

    versions.snapshot += 1;
    const snapshotMeta = new Metadata(
      new Snapshot({
        version: versions.snapshot,
        specVersion: '1.0',
        expires: inOneYear(),
        meta: { 'targets.json': new MetaFile({ version: versions.targets }) },
      }),
    );
    snapshotMeta.sign(signerOf(keys.snapshot));
    const snapshotBytes = serialize(snapshotMeta);
    write(`${versions.snapshot}.snapshot.json`, snapshotBytes);

    versions.timestamp += 1;
    const timestampMeta = new Metadata(
      new Timestamp({
        version: versions.timestamp,
        specVersion: '1.0',
        expires: tufTime(timestampExpires ?? new Date(Date.now() + 24 * 3600 * 1000)),
        snapshotMeta: new MetaFile({
          version: versions.snapshot,
          length: snapshotBytes.length,
          hashes: { sha256: sha256(snapshotBytes) },
        }),
      }),
    );
    timestampMeta.sign(signerOf(keys.timestamp));
    write('timestamp.json', serialize(timestampMeta));
  };

  for (const [name, data] of Object.entries(options.targets)) contents.set(name, Buffer.from(data));
  writeRoot(undefined);
  copyFileSync(path.join(dir, '1.root.json'), rootPath);
  writeTopLevel(options.timestampExpires);

  const server: StaticServer = await serveDirectory(dir);
  return {
    mirrorUrl: server.url,
    rootPath,
    dir,
    versions,
    requests: server.requests,
    publish(change = {}) {
      for (const name of change.removeTargets ?? []) contents.delete(name);
      for (const [name, data] of Object.entries(change.targets ?? {})) contents.set(name, Buffer.from(data));
      if (change.rotateKeys) {
        const previousRootKey = keys.root;
        keys = Object.fromEntries(roles.map((role) => [role, newRoleKey()])) as Record<Role, RoleKey>;
        writeRoot(previousRootKey);
      }
      writeTopLevel(change.timestampExpires);
      return { ...versions };
    },
    stop: () => server.stop(),
  };
}
