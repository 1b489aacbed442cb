// readDer builds what @sigstore/core's ASN1Obj.parseBuffer builds and refuses what it refuses: every
// certificate and timestamp of the conformance vectors and trusted roots, then copies of real ones with
// each byte changed, cut short or extended, and nesting at the depth limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ASN1Obj } from '@sigstore/core';
import { readDer } from '../../src/sigstore/der-reader.ts';
import { derVectors } from './ext.ts';

/** The library's reading, or 'refused' (stack traces off: thousands of refusals below). */
function library(der: Uint8Array): ASN1Obj | 'refused' {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return ASN1Obj.parseBuffer(Buffer.from(der));
  } catch {
    return 'refused';
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function ours(der: Uint8Array): ASN1Obj | 'refused' {
  try {
    return readDer(der);
  } catch {
    return 'refused';
  }
}

/** Where two trees first differ ('' when they are the same: tag class and byte, value bytes, children). */
function difference(a: ASN1Obj, b: ASN1Obj, at = 'root'): string {
  if (a.tag.constructor !== b.tag.constructor) return `${at}: tag class`;
  if (a.tag.toDER() !== b.tag.toDER()) return `${at}: tag ${a.tag.toDER()} vs ${b.tag.toDER()}`;
  if (!Buffer.from(a.value).equals(Buffer.from(b.value))) return `${at}: value`;
  if (a.subs.length !== b.subs.length) return `${at}: ${a.subs.length} vs ${b.subs.length} children`;
  for (let i = 0; i < a.subs.length; i++) {
    const d = difference(a.subs[i]!, b.subs[i]!, `${at}.${i}`);
    if (d) return d;
  }
  return '';
}

function assertSame(der: Uint8Array, what: string): 'read' | 'refused' {
  const expected = library(der);
  const actual = ours(der);
  if (expected === 'refused' || actual === 'refused') {
    assert.equal(actual, expected, what);
    return 'refused';
  }
  assert.equal(difference(actual, expected), '', what);
  return 'read';
}

test('every certificate and RFC 3161 token of the vectors reads to the same tree', () => {
  const { certificates, timestamps } = derVectors();
  assert.ok(certificates.length > 100 && timestamps.length > 5);
  let read = 0;
  for (const [i, der] of [...certificates, ...timestamps].entries())
    if (assertSame(der, `vector ${i}`) === 'read') read++;
  assert.ok(read > 100, `${read} read`);
});

test('changed, cut and extended copies of a real certificate and token: read or refused alike', () => {
  const { certificates, timestamps } = derVectors();
  const counts = { read: 0, refused: 0 };
  for (const der of [certificates[0]!, timestamps[0]!]) {
    for (let at = 0; at < der.length; at++) {
      for (const change of [
        (b: number) => b ^ 0x01,
        (b: number) => b ^ 0x80,
        () => 0x00,
        () => 0xff,
        () => 0x1f,
      ]) {
        const copy = Buffer.from(der);
        copy[at] = change(copy[at]!);
        counts[assertSame(copy, `byte ${at} changed`)]++;
      }
      counts[assertSame(der.subarray(0, at), `cut at ${at}`)]++;
    }
    counts[assertSame(Buffer.concat([der, Buffer.from([0x00])]), 'one byte more')]++;
  }
  // Both outcomes were exercised (a changed value byte still reads; a changed length does not).
  assert.ok(counts.read > 1000 && counts.refused > 1000, JSON.stringify(counts));
});

const lengthBytes = (n: number): number[] => (n < 128 ? [n] : n < 256 ? [0x81, n] : [0x82, n >> 8, n & 0xff]);

test('nesting: 100 levels read, 101 are refused, and an OCTET STRING too deep to read stays a value', () => {
  const nest = (levels: number, inner: Buffer): Buffer => {
    let der = inner;
    for (let i = 0; i < levels; i++) {
      der = Buffer.concat([Buffer.from([0x30, ...lengthBytes(der.length)]), der]);
    }
    return der;
  };
  const nul = Buffer.from([0x05, 0x00]);
  assert.equal(assertSame(nest(100, nul), '100 levels'), 'read');
  assert.equal(assertSame(nest(101, nul), '101 levels'), 'refused');
  const deep = nest(100, nul);
  const octets = Buffer.concat([Buffer.from([0x04, ...lengthBytes(deep.length)]), deep]);
  assert.equal(assertSame(octets, 'an OCTET STRING holding 100 levels'), 'read');
  const held = readDer(octets);
  assert.equal(held.subs.length, 0, 'too deep to be children: a plain value');
  const shallow = Buffer.concat([Buffer.from([0x04, nul.length]), nul]);
  assert.equal(readDer(shallow).subs.length, 1, 'nested DER in an OCTET STRING becomes its child');
});

test('a value read is a copy: changing the input afterwards changes nothing', () => {
  const der = Buffer.from(derVectors().certificates[0]!);
  const obj = readDer(der);
  const before = Buffer.from(obj.subs[0]!.value);
  der.fill(0);
  assert.deepEqual(Buffer.from(obj.subs[0]!.value), before);
});

test("each of the library's refusals is one of readDer's, and the minimal forms next to them read", () => {
  const value = (n: number): number[] => Array.from({ length: n }, () => 0x61);
  const cases: [string, number[], 'read' | 'refused'][] = [
    ['empty input', [], 'refused'],
    ['long-form tag number', [0x1f, 0x01, 0x00], 'refused'],
    ['universal tag 0', [0x00, 0x00], 'refused'],
    ['constructed universal tag 0', [0x20, 0x00], 'refused'],
    ['indefinite length', [0x30, 0x80, 0x00, 0x00], 'refused'],
    ['long form of a length under 128', [0x04, 0x81, 0x05, ...value(5)], 'refused'],
    ['long form with a leading zero', [0x04, 0x82, 0x00, 0x80, ...value(128)], 'refused'],
    ['seven length bytes', [0x04, 0x87, 0, 0, 0, 0, 0, 0, 0x01], 'refused'],
    ['a value past the end', [0x04, 0x05, 0x61], 'refused'],
    ['a child past its parent', [0x30, 0x02, 0x04, 0x02, 0x61, 0x61], 'refused'],
    ['trailing data', [0x05, 0x00, 0x00], 'refused'],
    ['long form of 128', [0x04, 0x81, 0x80, ...value(128)], 'read'],
    ['two-byte long form', [0x04, 0x82, 0x01, 0x00, ...value(256)], 'read'],
    ['an OCTET STRING holding half an object', [0x04, 0x02, 0x30, 0x05], 'read'],
  ];
  for (const [what, bytes, outcome] of cases)
    assert.equal(assertSame(Buffer.from(bytes), what), outcome, what);
});

/** Every node of a tree, depth first. */
function nodes(obj: ASN1Obj): ASN1Obj[] {
  return [obj, ...obj.subs.flatMap(nodes)];
}

/** The library's answer to `toOID` on a node of its own reading (its error message when it throws). */
function libraryOid(node: ASN1Obj): string {
  try {
    return new ASN1Obj(node.tag, Buffer.from(node.value), []).toOID();
  } catch (error) {
    return `throws ${(error as Error).message}`;
  }
}

function ourOid(node: ASN1Obj): string {
  try {
    return node.toOID();
  } catch (error) {
    return `throws ${(error as Error).message}`;
  }
}

test("toOID of the nodes readDer builds is the library's, for every node of the vectors, asked twice", () => {
  const { certificates, timestamps } = derVectors();
  let oids = 0;
  for (const der of [...certificates, ...timestamps]) {
    const obj = ours(der);
    if (obj === 'refused') continue;
    for (const node of nodes(obj)) {
      const expected = libraryOid(node);
      assert.equal(ourOid(node), expected);
      assert.equal(ourOid(node), expected, 'the remembered answer');
      if (!expected.startsWith('throws')) oids++;
    }
  }
  assert.ok(oids > 1000, `${oids} OIDs`);
});

test('toOID: arcs past 2^53, an unfinished last arc, an empty OID and a first byte over 127 as the library reads them', () => {
  const oid = (...bytes: number[]): Buffer => Buffer.from([0x06, bytes.length, ...bytes]);
  const cases = [
    oid(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b), // 1.2.840.113549.1.1.11
    oid(0x2b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), // 2^56 - 1: beyond a Number
    oid(0x2b, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), // 2^56 exactly
    oid(0x2b, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), // 2^55 - 1
    oid(0x2b, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), // 2^52 - 1: a Number still
    oid(0x2b, 0x06, 0x86), // the last arc never ends
    oid(0x2b, 0x80, 0x01), // a non-minimal arc
    oid(0x99, 0x01), // first byte 153
    oid(),
    Buffer.from([0x04, 0x01, 0x2a]), // not an OID: the library's refusal
  ];
  for (const der of cases) {
    const node = readDer(der);
    assert.equal(ourOid(node), libraryOid(node), der.toString('hex'));
  }
  assert.equal(ourOid(readDer(cases[1]!)), '1.3.72057594037927935');
});

test("a node read is the library's ASN1Obj: its methods, a value made when read, one that can be set", () => {
  const der = Buffer.from([0x30, 0x06, 0x02, 0x01, 0x05, 0x01, 0x01, 0xff]);
  const obj = readDer(der);
  assert.ok(obj instanceof ASN1Obj);
  assert.equal(obj.subs[0]!.toInteger(), 5n);
  assert.equal(obj.subs[1]!.toBoolean(), true);
  assert.deepEqual(obj.value, der.subarray(2));
  assert.equal(obj.value, obj.value, 'one view, kept');
  assert.throws(() => obj.toOID(), /not an OID/);
  const int = obj.subs[0]!;
  (int as { value: Buffer }).value = Buffer.from([0x07]); // readonly in the typings, writable in the library
  assert.equal(int.toInteger(), 7n);
  assert.deepEqual(obj.toDER(), Buffer.from([0x30, 0x06, 0x02, 0x01, 0x07, 0x01, 0x01, 0xff]));
  const oid = readDer(Buffer.from([0x06, 0x01, 0x2a]));
  assert.equal(oid.toOID(), '1.2');
  (oid as { value: Buffer }).value = Buffer.from([0x2b]);
  assert.equal(oid.toOID(), '1.3', 'a new value is decoded anew');
});
