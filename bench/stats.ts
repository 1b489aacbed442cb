// The one median the bench scripts quote: the upper middle of the sorted values (NaN for none).
export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
