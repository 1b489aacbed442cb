// Whether two lists hold the same objects in the same order, compared by identity: how the cache-hit
// path tells that what it read (cache entries, decisions) is what a remembered answer was made from.

/** The same items in the same order (compared by identity). */
export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
