// DER encoding of @sigstore/core's ASN.1 objects without its ByteStream, which allocates a zero-filled
// ≥1 KiB buffer per node on every `toDER()`. `encodeDer` writes the same bytes as ASN1Obj.toDER (the
// tag byte, the minimal length, then the children's encodings or the value) into one buffer;
// `DerObj` is an ASN1Obj whose `toDER()` is `encodeDer` (readDer builds its trees of them, so the
// library serialising a part it read, RFC 3161 signed attributes and TSTInfo, runs this);
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

/** The content length of every node, in pre-order (measured once: nested lengths need the children's). */
function measure(obj: ASN1Obj, inner: number[]): number {
  const at = inner.length;
  inner.push(0);
  let length = 0;
  if (obj.subs.length > 0) for (const sub of obj.subs) length += measure(sub, inner);
  else length = obj.value.length;
  inner[at] = length;
  return 1 + lengthSize(length) + length;
}

/** Writes `obj` at `at` using the pre-order lengths from `measure`; returns where it ended. */
function write(obj: ASN1Obj, out: Buffer, at: number, inner: number[], node: { next: number }): number {
  const length = inner[node.next++]!;
  out[at++] = obj.tag.toDER();
  if (length < 128) out[at++] = length;
  else {
    const n = lengthSize(length) - 1;
    out[at++] = 0x80 | n;
    for (let i = n - 1; i >= 0; i--) out[at++] = Math.floor(length / 256 ** i) % 256;
  }
  if (obj.subs.length > 0) for (const sub of obj.subs) at = write(sub, out, at, inner, node);
  else {
    out.set(obj.value, at);
    at += obj.value.length;
  }
  return at;
}

/** The DER of an ASN.1 object, byte for byte what `obj.toDER()` returns, in one fresh buffer. */
export function encodeDer(obj: ASN1Obj): Buffer {
  const inner: number[] = [];
  const out = Buffer.allocUnsafe(measure(obj, inner));
  write(obj, out, 0, inner, { next: 0 });
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
    if (this.#oid !== undefined) return this.#oid;
    const oid = this.tag.isOID() ? decodeOid(this.value) : undefined;
    this.#oid = oid ?? super.toOID();
    return this.#oid;
  }
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
  return new DerObj(obj.tag, obj.value, obj.subs.map(withFastDer));
}

/**
 * The bytes of `bytes` that encode `node`: what `encodeDer(node)` writes, as a view, for a node of a
 * tree readDer read from `bytes` and nobody edited. readDer accepts only one encoding per tree (one
 * tag byte, minimal definite lengths, a constructed value exactly its children), so the header in
 * front of the node's value is the one encodeDer writes: one tag byte and `lengthSize` bytes.
 */
export function encodingIn(bytes: Buffer, node: ASN1Obj): Buffer {
  const valueAt = node.value.byteOffset - bytes.byteOffset;
  const start = valueAt - 1 - lengthSize(node.value.length);
  const end = valueAt + node.value.length;
  if (node.value.buffer !== bytes.buffer || start < 0 || end > bytes.length)
    throw new Error('the node was not read from these bytes');
  return bytes.subarray(start, end);
}
