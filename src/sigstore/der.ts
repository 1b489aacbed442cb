// DER encoding of @sigstore/core's ASN.1 objects without its ByteStream, which allocates a zero-filled
// ≥1 KiB buffer per node on every `toDER()`. `encodeDer` writes the same bytes as ASN1Obj.toDER (the
// tag byte, the minimal length, then the children's encodings or the value) into one buffer;
// `DerObj` is an ASN1Obj whose `toDER()` is `encodeDer`, `ReadObj` the same for readDer's trees (so
// the library serialising a part it read, RFC 3161 signed attributes and TSTInfo, runs this);
// `withFastDer` copies any tree into such nodes (a certificate's TBS the SCT check edits);
// `encodingIn` finds a node's encoding in the bytes readDer read it from, without writing it again.
// Reading DER is der-reader.ts.
import { ASN1Obj } from '@sigstore/core';

function lengthSize(length: number): number {
  if (length < 128) return 1;
  let bytes = 0;
  for (let l = length; l > 0; l = Math.floor(l / 256)) bytes++;
  return 1 + bytes;
}

/**
 * The content length of every node, in pre-order (measured once: nested lengths need the children's),
 * kept in one array reused by every encodeDer (it runs to its end without calling out, so never twice
 * at once): a certificate's hundred-odd lengths were a growing array per encoding.
 */
let lengths = new Float64Array(256);
let measured = 0;

function measure(obj: ASN1Obj): number {
  const at = measured++;
  if (at === lengths.length) {
    const grown = new Float64Array(lengths.length * 2);
    grown.set(lengths);
    lengths = grown;
  }
  let length = 0;
  if (obj.subs.length > 0) for (const sub of obj.subs) length += measure(sub);
  else length = obj.value.length;
  lengths[at] = length;
  return 1 + lengthSize(length) + length;
}

/** Writes `obj` at `at` using the pre-order lengths from `measure`; returns where it ended. */
function write(obj: ASN1Obj, out: Buffer, at: number, node: { next: number }): number {
  const length = lengths[node.next++]!;
  out[at++] = obj.tag.toDER();
  if (length < 128) out[at++] = length;
  else {
    const n = lengthSize(length) - 1;
    out[at++] = 0x80 | n;
    for (let i = n - 1; i >= 0; i--) out[at++] = Math.floor(length / 256 ** i) % 256;
  }
  if (obj.subs.length > 0) for (const sub of obj.subs) at = write(sub, out, at, node);
  else {
    out.set(obj.value, at);
    at += obj.value.length;
  }
  return at;
}

/** The DER of an ASN.1 object, byte for byte what `obj.toDER()` returns, in one fresh buffer. */
export function encodeDer(obj: ASN1Obj): Buffer {
  measured = 0;
  const out = Buffer.allocUnsafe(measure(obj));
  write(obj, out, 0, { next: 0 });
  return out;
}

/** Arcs up to this fit a Number exactly after one more 7-bit step (2^53 / 2^7). */
const EXACT_ARC = 2 ** 46;

/**
 * ASN1Obj whose `toDER()` is `encodeDer` (same bytes, a fresh buffer each call, as the library's) and
 * whose `toOID()` is decoded once per node, with Numbers: the library's `parseOID` builds every arc
 * from BigInts (one heap number per byte, ~2 KB per OID); a certificate's OIDs are asked for again
 * by each getter. The same string: the first byte as first·40 + second, each following arc from its
 * 7-bit groups, an unfinished last arc dropped; an arc too large for a Number (or anything but an
 * OID) goes to the library's own code.
 */
export class DerObj extends ASN1Obj {
  #oid: string | undefined;

  override toDER(): Buffer {
    return encodeDer(this);
  }

  override toOID(): string {
    this.#oid ??= oidOf(this);
    return this.#oid;
  }
}

type Tag = ASN1Obj['tag'];

/**
 * The node readDer builds: DerObj's `toDER` and `toOID`, every other method the library's (its
 * prototype is ASN1Obj's, so `instanceof ASN1Obj` holds), and a `value` made when first asked for. A
 * value is a view of the bytes read, a ~100-byte object, and most nodes' value is never read (a
 * constructed node's children are): a certificate and a token made ~100 KB of views per bundle.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type -- the members ASN1Obj.prototype gives it
export interface ReadObj extends ASN1Obj {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- see the interface
export class ReadObj {
  readonly tag: Tag;
  subs: ASN1Obj[];
  readonly #bytes: Buffer;
  readonly #start: number;
  readonly #end: number;
  #value: Buffer | undefined;
  #oid: string | undefined;

  constructor(tag: Tag, bytes: Buffer, start: number, end: number, subs: ASN1Obj[]) {
    this.tag = tag;
    this.#bytes = bytes;
    this.#start = start;
    this.#end = end;
    this.subs = subs;
  }

  get value(): Buffer {
    this.#value ??= this.#bytes.subarray(this.#start, this.#end);
    return this.#value;
  }

  set value(value: Buffer) {
    this.#value = value;
    this.#oid = undefined;
  }

  toDER(): Buffer {
    return encodeDer(this);
  }

  toOID(): string {
    this.#oid ??= oidOf(this);
    return this.#oid;
  }

  /** A copy of the tree (withFastDer's), its values still made when read, OIDs already decoded kept. */
  copy(): ReadObj {
    return this.withSubs(this.subs.map(withFastDer));
  }

  /** A copy of this node alone with `subs` as its children (its value and decoded OID kept). */
  withSubs(subs: ASN1Obj[]): ReadObj {
    const copy = new ReadObj(this.tag, this.#bytes, this.#start, this.#end, subs);
    copy.#value = this.#value;
    copy.#oid = this.#oid;
    return copy;
  }
}
Object.setPrototypeOf(ReadObj.prototype, ASN1Obj.prototype);

/** The library's `toOID` of a node, decoded with Numbers where it can be (see DerObj). */
function oidOf(node: ASN1Obj): string {
  const oid = node.tag.isOID() ? decodeOid(node.value) : undefined;
  return oid ?? ASN1Obj.prototype.toOID.call(node);
}

function decodeOid(bytes: Buffer): string | undefined {
  if (bytes.length === 0) return undefined;
  const first = bytes[0]!;
  let oid = `${Math.floor(first / 40)}.${first % 40}`;
  let arc = 0;
  for (let i = 1; i < bytes.length; i++) {
    if (arc >= EXACT_ARC) return undefined;
    const byte = bytes[i]!;
    arc = arc * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      oid += `.${arc}`;
      arc = 0;
    }
  }
  return oid;
}

/**
 * A copy of the tree (new nodes and child lists, so callers may edit it; the value bytes are shared and
 * never written) whose every node serialises with `encodeDer`.
 */
export function withFastDer(obj: ASN1Obj): ASN1Obj {
  if (obj instanceof ReadObj) return obj.copy();
  return new DerObj(obj.tag, obj.value, obj.subs.map(withFastDer));
}

/**
 * A new node for `obj` alone, with `subs` as its children, serialising with `encodeDer`: the children
 * given are used as they are (a copy along one path of a tree shares the rest of it).
 */
export function withChildren(obj: ASN1Obj, subs: ASN1Obj[]): ASN1Obj {
  if (obj instanceof ReadObj) return obj.withSubs(subs);
  return new DerObj(obj.tag, obj.value, subs);
}

/**
 * The bytes of `bytes` that encode `node`: what `encodeDer(node)` writes, as a view, for a node of a
 * tree readDer read from `bytes` and nobody edited. readDer accepts only one encoding per tree (one
 * tag byte, minimal definite lengths, a constructed value exactly its children), so the header in
 * front of the node's value is the one encodeDer writes: one tag byte and `lengthSize` bytes. Throws
 * for a node whose value does not lie within `bytes` (a precondition guard, not a proof of origin).
 */
export function encodingIn(bytes: Buffer, node: ASN1Obj): Buffer {
  const valueAt = node.value.byteOffset - bytes.byteOffset;
  const start = valueAt - 1 - lengthSize(node.value.length);
  const end = valueAt + node.value.length;
  if (node.value.buffer !== bytes.buffer || start < 0 || end > bytes.length)
    throw new Error('the node was not read from these bytes');
  return bytes.subarray(start, end);
}
