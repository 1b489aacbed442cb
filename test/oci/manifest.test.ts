import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import { parseManifest } from '../../src/oci/manifest.ts';
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
} from '../../src/oci/media-types.ts';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));
const descriptor = (mediaType: string, c: string, size = 10) => ({ mediaType, digest: d(c), size });
const isProtocol = (what: RegExp) => (e: unknown) =>
  e instanceof SigwardError && e.code === 'REGISTRY_PROTOCOL' && what.test(e.message);

test('OCI image manifest with subject, artifactType and annotations', () => {
  const m = parseManifest(
    bytes({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/x',
      config: descriptor(OCI_CONFIG, 'a'),
      layers: [{ ...descriptor(OCI_LAYER_GZIP, 'b'), annotations: { k: 'v' }, extra: 1 }],
      subject: descriptor(OCI_MANIFEST, 'c'),
      annotations: { 'org.opencontainers.image.created': 'now' },
    }),
  );
  assert.equal(m.kind, 'manifest');
  if (m.kind !== 'manifest') return;
  assert.equal(m.artifactType, 'application/x');
  assert.deepEqual(m.layers, [{ ...descriptor(OCI_LAYER_GZIP, 'b'), annotations: { k: 'v' } }]);
  assert.equal(m.subject?.digest, d('c'));
});

test('Docker schema 2 manifest and manifest list', () => {
  const m = parseManifest(
    bytes({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: descriptor('application/vnd.docker.container.image.v1+json', 'a'),
      layers: [],
    }),
  );
  assert.equal(m.kind, 'manifest');
  const list = parseManifest(
    bytes({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST_LIST,
      manifests: [
        {
          ...descriptor(DOCKER_MANIFEST, 'a'),
          platform: { architecture: 'arm', os: 'linux', variant: 'v7' },
        },
      ],
    }),
  );
  assert.equal(list.kind, 'index');
  if (list.kind === 'index')
    assert.deepEqual(list.manifests[0]?.platform, { architecture: 'arm', os: 'linux', variant: 'v7' });
});

test('without mediaType: the Content-Type, else the shape decides', () => {
  const index = { schemaVersion: 2, manifests: [] };
  assert.equal(parseManifest(bytes(index), `${OCI_INDEX}; charset=utf-8`).mediaType, OCI_INDEX);
  assert.equal(parseManifest(bytes(index)).kind, 'index');
  const manifest = { schemaVersion: 2, config: descriptor(OCI_CONFIG, 'a'), layers: [] };
  assert.equal(parseManifest(bytes(manifest), 'application/json').kind, 'manifest');
});

test('refusals name the field', () => {
  const base = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptor(OCI_CONFIG, 'a'), layers: [] };
  const cases: [unknown, RegExp][] = [
    [{ ...base, schemaVersion: 1 }, /schemaVersion 2/],
    [
      { ...base, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
      /unsupported manifest media type/,
    ],
    [
      { ...base, config: { ...descriptor(OCI_CONFIG, 'a'), digest: 'sha256:abc' } },
      /manifest\.config\.digest/,
    ],
    [{ ...base, config: { ...descriptor(OCI_CONFIG, 'a'), size: -1 } }, /manifest\.config\.size/],
    [{ ...base, config: { ...descriptor(OCI_CONFIG, 'a'), size: 1.5 } }, /manifest\.config\.size/],
    [{ ...base, layers: [{ digest: d('a'), size: 1 }] }, /manifest\.layers\[0\]\.mediaType/],
    [{ ...base, layers: 'x' }, /manifest\.layers must be an array/],
    [{ ...base, annotations: { a: 1 } }, /manifest\.annotations\.a/],
    [
      {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ ...descriptor(OCI_MANIFEST, 'a'), platform: { os: 'linux' } }],
      },
      /platform needs architecture/,
    ],
    [{ schemaVersion: 2 }, /neither an image manifest nor an index/],
    [[1, 2], /JSON object/],
  ];
  for (const [value, why] of cases)
    assert.throws(() => parseManifest(bytes(value)), isProtocol(why), JSON.stringify(value));
  assert.throws(() => parseManifest(Buffer.from('{not json')), isProtocol(/not JSON/));
  assert.throws(() => parseManifest(Buffer.from([0xff, 0xfe, 0x7b])), isProtocol(/not JSON/));
});
