// A bounded least-recently-used map whose keys are sha256 digests as 32-character one-byte strings (the
// verdict and attestation caches' keys, verify-policy.ts verdictKey), each entry with its own expiry.
// The keys live as raw bytes in typed arrays, found through an open-addressing table, so an entry costs
// ~60 bytes (32 of key, links, expiry, a table slot, the value's pointer) instead of ~120 with
// lru-cache (a 48-byte string, a Map entry, its per-entry arrays), and the collector has no key
// objects to trace: at 100k verdicts that is ~11 MiB of heap less (docs/performance.md).
// A key is compared in full (all 32 bytes), so two keys never share an entry. The slot a key lands in
// comes from a hash with a random per-process seed: keys are digests of text that a Pod's author partly
// chooses, and a known slot function would let one search for keys that all pile into one run of slots.
import { randomFillSync } from 'node:crypto';

/** Bytes of a key: a sha256. */
export const KEY_BYTES = 32;
const WORDS = KEY_BYTES / 4;
const NONE = -1;

export class DigestKeyedLru<V> {
  readonly #max: number;
  readonly #now: () => number;
  /** Entry i's key: words i*8 … i*8+7 (little-endian groups of 4 key bytes). */
  #keys: Int32Array;
  /** Entry i's expiry (the clock's ms); a lookup after it misses and frees the entry. */
  #expires: Float64Array;
  /** The recency list: head the most recent, tail the next to evict. */
  #newer: Int32Array;
  #older: Int32Array;
  #values: (V | undefined)[] = [];
  /** Open addressing, linear probing: slot → entry + 1, 0 empty; at most half full. */
  readonly #slots: Int32Array;
  readonly #shift: number;
  readonly #seeds = new Int32Array(WORDS);
  #head = NONE;
  #tail = NONE;
  #size = 0;
  /** Entries handed out so far (the arrays grow up to max); freed ones wait in #free. */
  #used = 0;
  #free: number[] = [];
  /** The key being looked up, as words (one lookup at a time: no allocation per call). */
  readonly #probe = new Int32Array(WORDS);

  constructor(max: number, now: () => number = performance.now.bind(performance)) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`cache size ${max}: at least 1 entry`);
    this.#max = max;
    this.#now = now;
    const bits = Math.max(4, Math.ceil(Math.log2(max * 2)));
    if (bits > 31) throw new RangeError(`cache size ${max}: too large`);
    this.#slots = new Int32Array(2 ** bits);
    this.#shift = 32 - bits;
    randomFillSync(this.#seeds);
    for (let w = 0; w < WORDS; w++) this.#seeds[w]! |= 1;
    const initial = Math.min(max, 1024);
    this.#keys = new Int32Array(initial * WORDS);
    this.#expires = new Float64Array(initial);
    this.#newer = new Int32Array(initial);
    this.#older = new Int32Array(initial);
  }

  get size(): number {
    return this.#size;
  }

  /** The value, unless absent or expired (then freed); a hit becomes the most recently used. */
  get(key: string): V | undefined {
    this.#readKey(key);
    const slot = this.#find();
    if (slot < 0) return undefined;
    const entry = this.#slots[slot]! - 1;
    if (this.#now() > this.#expires[entry]!) {
      this.#remove(slot, entry);
      return undefined;
    }
    this.#touch(entry);
    return this.#values[entry];
  }

  /** Stores `value` for `ttl` ms (> 0), evicting the least recently used entry when full. */
  set(key: string, value: V, { ttl }: { ttl: number }): void {
    if (!(ttl > 0)) throw new RangeError(`ttl ${ttl}: a stored value expires`);
    this.#readKey(key);
    let slot = this.#find();
    let entry: number;
    if (slot >= 0) entry = this.#slots[slot]! - 1;
    else {
      if (this.#size >= this.#max) {
        const oldest = this.#tail;
        this.#remove(this.#slotOf(oldest), oldest);
        // The probe words were not touched; the slot run may have shifted: look again.
        slot = this.#find();
      }
      entry = this.#allocate();
      this.#keys.set(this.#probe, entry * WORDS);
      this.#slots[~slot] = entry + 1;
      this.#link(entry);
      this.#size++;
    }
    this.#values[entry] = value;
    this.#expires[entry] = this.#now() + ttl;
    this.#touch(entry);
  }

  clear(): void {
    this.#slots.fill(0);
    this.#values = [];
    this.#free = [];
    this.#head = this.#tail = NONE;
    this.#size = this.#used = 0;
  }

  #readKey(key: string): void {
    if (key.length !== KEY_BYTES) throw new TypeError(`a cache key is ${KEY_BYTES} bytes, not ${key.length}`);
    const probe = this.#probe;
    let wide = 0;
    for (let w = 0, c = 0; w < WORDS; w++, c += 4) {
      const a = key.charCodeAt(c);
      const b = key.charCodeAt(c + 1);
      const d = key.charCodeAt(c + 2);
      const e = key.charCodeAt(c + 3);
      wide |= a | b | d | e;
      probe[w] = a | (b << 8) | (d << 16) | (e << 24);
    }
    if (wide > 0xff) throw new TypeError('a cache key is a one-byte string');
  }

  /** The home slot of the key at `words[at…at+7]`. */
  #home(words: Int32Array, at: number): number {
    const seeds = this.#seeds;
    let h = 0;
    for (let w = 0; w < WORDS; w++) h = (h + Math.imul(words[at + w]!, seeds[w]!)) | 0;
    // A product's high bits depend on the word's low bits only: mixed (murmur3's finaliser) so that
    // every key bit reaches the slot bits.
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> this.#shift;
  }

  /** The slot holding the probe key, or ~(the empty slot where it would go). */
  #find(): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    const probe = this.#probe;
    const keys = this.#keys;
    for (let slot = this.#home(probe, 0); ; slot = (slot + 1) & mask) {
      const held = slots[slot]!;
      if (held === 0) return ~slot;
      const at = (held - 1) * WORDS;
      let same = true;
      for (let w = 0; w < WORDS && same; w++) same = keys[at + w] === probe[w];
      if (same) return slot;
    }
  }

  #slotOf(entry: number): number {
    const mask = this.#slots.length - 1;
    let slot = this.#home(this.#keys, entry * WORDS);
    while (this.#slots[slot] !== entry + 1) slot = (slot + 1) & mask;
    return slot;
  }

  #allocate(): number {
    const freed = this.#free.pop();
    if (freed !== undefined) return freed;
    const entry = this.#used++;
    if (entry === this.#expires.length) this.#grow();
    return entry;
  }

  /** Doubles the per-entry arrays (up to max): a small cache stays small. */
  #grow(): void {
    const capacity = Math.min(this.#max, this.#expires.length * 2);
    const grown = <A extends Int32Array | Float64Array>(old: A, make: (n: number) => A, per = 1): A => {
      const next = make(capacity * per);
      next.set(old);
      return next;
    };
    this.#keys = grown(this.#keys, (n) => new Int32Array(n), WORDS);
    this.#expires = grown(this.#expires, (n) => new Float64Array(n));
    this.#newer = grown(this.#newer, (n) => new Int32Array(n));
    this.#older = grown(this.#older, (n) => new Int32Array(n));
  }

  /** Frees `entry` held at `slot`; the entries after it in its run move back (no tombstones). */
  #remove(slot: number, entry: number): void {
    this.#unlink(entry);
    this.#values[entry] = undefined;
    this.#free.push(entry);
    this.#size--;
    const mask = this.#slots.length - 1;
    let hole = slot;
    this.#slots[hole] = 0;
    for (let next = (hole + 1) & mask; this.#slots[next] !== 0; next = (next + 1) & mask) {
      const home = this.#home(this.#keys, (this.#slots[next]! - 1) * WORDS);
      // The entry at `next` may fill the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      this.#slots[hole] = this.#slots[next]!;
      this.#slots[next] = 0;
      hole = next;
    }
  }

  #link(entry: number): void {
    this.#older[entry] = this.#head;
    this.#newer[entry] = NONE;
    if (this.#head !== NONE) this.#newer[this.#head] = entry;
    this.#head = entry;
    if (this.#tail === NONE) this.#tail = entry;
  }

  #unlink(entry: number): void {
    const newer = this.#newer[entry]!;
    const older = this.#older[entry]!;
    if (newer === NONE) this.#head = older;
    else this.#older[newer] = older;
    if (older === NONE) this.#tail = newer;
    else this.#newer[older] = newer;
  }

  #touch(entry: number): void {
    if (this.#head === entry) return;
    this.#unlink(entry);
    this.#link(entry);
  }
}
