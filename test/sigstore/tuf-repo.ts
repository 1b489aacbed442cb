// A small but real signed TUF repository for tests, built with @tufjs/models (one ECDSA P-256 key for
// all roles, no consistent snapshots) and served over loopback HTTP. Each publish() signs new
// targets/snapshot/timestamp; rotateRoot() signs the next root. Expiry is per publish, so tests can
// serve expired metadata.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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

const inAYear = (): string => new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();

export class TestTufRepo {
  readonly files = new Map<string, Buffer>();
  readonly requests: string[] = [];
  readonly #privateKey: KeyObject;
  readonly #key: Key;
  #rootVersion = 0;
  #version = 0;
  #server: ReturnType<typeof createServer> | undefined;
  url = '';

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#privateKey = privateKey;
    const meta = {
      keyType: 'ecdsa-sha2-nistp256',
      scheme: 'ecdsa-sha2-nistp256',
      keyVal: { public: publicKey.export({ format: 'pem', type: 'spki' }).toString() },
    };
    const keyID = createHash('sha256').update(JSON.stringify(meta)).digest('hex');
    this.#key = new Key({ keyID, ...meta });
    this.rotateRoot(inAYear());
  }

  #sign = (data: Buffer): Signature =>
    new Signature({ keyID: this.#key.keyID, sig: sign('sha256', data, this.#privateKey).toString('hex') });

  #put(path: string, meta: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer {
    const bytes = Buffer.from(JSON.stringify(meta.toJSON()));
    this.files.set(path, bytes);
    return bytes;
  }

  /** Signs root version N+1 (1 at start) with the given expiry. */
  rotateRoot(expires: string): void {
    this.#rootVersion += 1;
    const root = new Metadata(
      new Root({ version: this.#rootVersion, specVersion: '1.0.0', expires, consistentSnapshot: false }),
    );
    for (const role of ['root', 'targets', 'snapshot', 'timestamp']) root.signed.addKey(this.#key, role);
    root.sign(this.#sign);
    const bytes = this.#put(`${this.#rootVersion}.root.json`, root);
    this.files.set('root.json', bytes);
  }

  /** The initial root (1.root.json) for a client's rootPath. */
  get initialRoot(): Buffer {
    return this.files.get('1.root.json')!;
  }

  /** Publishes targets; `timestampExpires` lets a test serve an expired timestamp. */
  publish(targets: Record<string, Buffer>, options: { timestampExpires?: string } = {}): void {
    this.#version += 1;
    const version = this.#version;
    const targetsMeta = new Metadata(new Targets({ version, specVersion: '1.0.0', expires: inAYear() }));
    for (const [name, content] of Object.entries(targets)) {
      targetsMeta.signed.addTarget(
        new TargetFile({
          path: name,
          length: content.length,
          hashes: { sha256: createHash('sha256').update(content).digest('hex') },
        }),
      );
      this.files.set(`targets/${name}`, content);
    }
    targetsMeta.sign(this.#sign);
    const targetsBytes = this.#put('targets.json', targetsMeta);
    const snapshot = new Metadata(
      new Snapshot({
        version,
        specVersion: '1.0.0',
        expires: inAYear(),
        meta: { 'targets.json': metaFile(version, targetsBytes) },
      }),
    );
    snapshot.sign(this.#sign);
    const snapshotBytes = this.#put('snapshot.json', snapshot);
    const timestamp = new Metadata(
      new Timestamp({
        version,
        specVersion: '1.0.0',
        expires: options.timestampExpires ?? inAYear(),
        snapshotMeta: metaFile(version, snapshotBytes),
      }),
    );
    timestamp.sign(this.#sign);
    this.#put('timestamp.json', timestamp);
  }

  async serve(): Promise<string> {
    this.#server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\//, '');
      this.requests.push(path);
      const body = this.files.get(path);
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
        .end(body);
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}

function metaFile(version: number, bytes: Buffer): MetaFile {
  return new MetaFile({
    version,
    length: bytes.length,
    hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
  });
}
