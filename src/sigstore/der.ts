// DER encoding of @sigstore/core's ASN.1 objects without its ByteStream, which allocates a zero-filled
// ≥1 KiB buffer per node on every `toDER()`. `encodeDer` writes the same bytes as ASN1Obj.toDER (the
// tag byte, the minimal length, then the children's encodings or the value) into one buffer;
// `withFastDer` copies a tree into nodes whose `toDER()` is `encodeDer`, for objects the library
// serialises itself (RFC 3161 signed attributes and TSTInfo, a certificate's TBS in SCT checks).
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

/** ASN1Obj whose `toDER()` is `encodeDer` (same bytes, a fresh buffer each call, as the library's). */
class FastDerObj extends ASN1Obj {
  override toDER(): Buffer {
    return encodeDer(this);
  }
}

/**
 * A copy of the tree (new nodes and child lists, so callers may edit it; the value bytes are shared and
 * never written) whose every node serialises with `encodeDer`.
 */
export function withFastDer(obj: ASN1Obj): ASN1Obj {
  return new FastDerObj(obj.tag, obj.value, obj.subs.map(withFastDer));
}
