// A tiny tar archive (POSIX ustar, regular files only) for synthetic image layers: nothing can be pulled
// in the world, so every test image is built from a few random bytes.
const block = 512;

function field(header: Buffer, offset: number, length: number, value: string): void {
  header.write(value, offset, Math.min(value.length, length), 'ascii');
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

export interface TarEntry {
  /** A relative path under 100 characters: `app/hello.txt`. */
  name: string;
  content: Uint8Array;
}

/** The bytes of an uncompressed tar holding the given files (mode 0644, owner 0, mtime 0: reproducible). */
export function tarOf(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if (entry.name.length >= 100) throw new RangeError(`tar entry name too long: ${entry.name}`);
    const header = Buffer.alloc(block);
    field(header, 0, 100, entry.name);
    field(header, 100, 8, octal(0o644, 8));
    field(header, 108, 8, octal(0, 8));
    field(header, 116, 8, octal(0, 8));
    field(header, 124, 12, octal(entry.content.byteLength, 12));
    field(header, 136, 12, octal(0, 12));
    field(header, 148, 8, ' '.repeat(8)); // counted as spaces while summing
    field(header, 156, 1, '0');
    field(header, 257, 6, 'ustar\0');
    field(header, 263, 2, '00');
    let sum = 0;
    for (const byte of header) sum += byte;
    field(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    parts.push(header, Buffer.from(entry.content));
    const pad = (block - (entry.content.byteLength % block)) % block;
    parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(block * 2));
  return Buffer.concat(parts);
}
