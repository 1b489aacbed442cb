// A DER reader that builds the same tree as @sigstore/core's `ASN1Obj.parseBuffer`, node for node (the
// library's own ASN1Tag objects, values as views of one copy of the input, made when first read; the
// nodes are der.ts's ReadObj, the library's ASN1Obj serialising with encodeDer), and refuses what it
// refuses.
// The library's reader makes a Buffer view for every byte it reads and throws and catches an error for
// every OCTET STRING that is not nested DER (it tries each one); this one walks indices and reports a
// failed attempt by returning, so one certificate reads in a fraction of the time. The same rules:
//  - tag: one byte; long-form tag numbers (0x1f) and universal tag 0 are refused;
//  - length: short form, or 1–6 long-form bytes, minimal (no leading zero, not < 128), never indefinite;
//  - a value must fit in the input; a constructed value is exactly its children;
//  - a primitive universal OCTET STRING whose value reads as a sequence of DER objects gets them as
//    children (X.509 extnValue, CMS eContent), otherwise none;
//  - at most 100 levels of nesting; nothing may follow the outermost object.
// test/sigstore/der-reader.test.ts compares both readers on every vector and on mutated copies.
import { ASN1Obj } from '@sigstore/core';
import { ReadObj } from './der.ts';

const MAX_DEPTH = 100;
const OCTET_STRING = 0x04;

type Tag = ASN1Obj['tag'];
const tags: (Tag | undefined)[] = [];

/** The library's ASN1Tag for a tag byte, made by the library itself (an empty object of that tag). */
function tagOf(byte: number): Tag | undefined {
  if ((byte & 0x1f) === 0x1f || byte === 0x00 || byte === 0x20) return undefined;
  return (tags[byte] ??= ASN1Obj.parseBuffer(Buffer.from([byte, 0x00])).tag);
}

class Reader {
  pos = 0;
  readonly bytes: Buffer;
  readonly stack: ASN1Obj[] = [];
  top = 0;
  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  /** One object at `pos`, or undefined when the bytes there are not one (`pos` is then meaningless). */
  object(depth: number): ASN1Obj | undefined {
    if (depth > MAX_DEPTH) return undefined;
    const { bytes } = this;
    if (this.pos >= bytes.length) return undefined;
    const tagByte = bytes[this.pos++]!;
    const tag = tagOf(tagByte);
    if (tag === undefined) return undefined;
    const length = this.length();
    if (length === undefined) return undefined;
    const start = this.pos;
    const end = start + length;
    if (end > bytes.length) return undefined;
    let subs: ASN1Obj[] = [];
    if (tag.constructed) {
      const children = this.children(end, depth);
      if (children === undefined) return undefined;
      subs = children;
    } else if (tagByte === OCTET_STRING) {
      subs = this.children(end, depth) ?? [];
    }
    this.pos = end;
    return new ReadObj(tag, bytes, start, end, subs);
  }

  /**
   * Objects from `pos` up to exactly `end`, or undefined. Collected on one stack for the whole read and
   * handed out as an array of exactly their number (an array grown by push keeps room for ~17).
   */
  children(end: number, depth: number): ASN1Obj[] | undefined {
    const base = this.top;
    while (this.pos < end) {
      const sub = this.object(depth + 1);
      if (sub === undefined) {
        this.top = base;
        return undefined;
      }
      this.stack[this.top++] = sub;
    }
    const subs = this.pos === end ? this.stack.slice(base, this.top) : undefined;
    this.top = base;
    return subs;
  }

  length(): number | undefined {
    const { bytes } = this;
    if (this.pos >= bytes.length) return undefined;
    const first = bytes[this.pos++]!;
    if ((first & 0x80) === 0) return first;
    const count = first & 0x7f;
    if (count > 6) return undefined;
    let length = 0;
    for (let i = 0; i < count; i++) {
      if (this.pos >= bytes.length) return undefined;
      const byte = bytes[this.pos++]!;
      if (i === 0 && byte === 0x00) return undefined;
      length = length * 256 + byte;
    }
    if (length < 128) return undefined; // indefinite (0x80) or not minimal
    return length;
  }
}

/** Error thrown for bytes that are not one DER object (the library throws its ASN1ParseError there). */
export class DerReadError extends Error {
  override readonly name = 'DerReadError';
}

/** `ASN1Obj.parseBuffer(der)`, faster: the same tree, the same refusals. */
export function readDer(der: Uint8Array): ASN1Obj {
  return readDerIn(Buffer.from(der));
}

/**
 * readDer without the copy: the tree's values are views of `bytes`, which the caller keeps and never
 * writes (CachedCertificate keeps them as the certificate's DER: der.ts `encodingIn`).
 */
export function readDerIn(bytes: Buffer): ASN1Obj {
  const reader = new Reader(bytes);
  const obj = reader.object(0);
  if (obj === undefined) throw new DerReadError('malformed DER');
  if (reader.pos !== reader.bytes.length) throw new DerReadError('invalid trailing data');
  return obj;
}
