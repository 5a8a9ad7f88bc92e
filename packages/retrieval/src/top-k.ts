/** A ranked key: higher scores are better. */
export interface Scored<K> {
  key: K;
  score: number;
}

/**
 * Keeps the `limit` best of a stream of (score, position) pairs in a binary min-heap, so picking the
 * top k of n candidates costs O(n log k) instead of sorting all n. Ties go to the earlier position,
 * which keeps results deterministic.
 */
export class TopK {
  private readonly scores: number[] = [];
  private readonly positions: number[] = [];

  constructor(readonly limit: number) {}

  get size(): number {
    return this.scores.length;
  }

  /** The score a candidate must beat to enter once the heap is full. */
  get threshold(): number {
    return this.scores.length < this.limit ? -Infinity : this.scores[0]!;
  }

  /** a ranks below b: lower score, or the same score and a later position. */
  private below(i: number, j: number): boolean {
    const a = this.scores[i]!;
    const b = this.scores[j]!;
    return a < b || (a === b && this.positions[i]! > this.positions[j]!);
  }

  private swap(i: number, j: number): void {
    const s = this.scores[i]!;
    this.scores[i] = this.scores[j]!;
    this.scores[j] = s;
    const p = this.positions[i]!;
    this.positions[i] = this.positions[j]!;
    this.positions[j] = p;
  }

  push(score: number, position: number): void {
    if (this.limit <= 0) return;
    const n = this.scores.length;
    if (n < this.limit) {
      this.scores.push(score);
      this.positions.push(position);
      let i = n;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.below(i, parent)) break;
        this.swap(i, parent);
        i = parent;
      }
      return;
    }
    const root = this.scores[0]!;
    if (score < root || (score === root && position > this.positions[0]!)) return;
    this.scores[0] = score;
    this.positions[0] = position;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let lowest = i;
      if (left < n && this.below(left, lowest)) lowest = left;
      if (right < n && this.below(right, lowest)) lowest = right;
      if (lowest === i) break;
      this.swap(i, lowest);
      i = lowest;
    }
  }

  /** The kept (position, score) pairs, best first. */
  sorted(): Array<{ position: number; score: number }> {
    const out = this.scores.map((score, i) => ({ score, position: this.positions[i]! }));
    return out.sort((a, b) => b.score - a.score || a.position - b.position);
  }
}
