/** Exact nearest-neighbour search by dot product over one contiguous Float32Array. */
import { TopK, type Scored } from './top-k.js';

/** The vector scaled to unit length (a zero vector stays zero), so a dot product is its cosine. */
export function normalize(vector: ArrayLike<number>): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  const out = new Float32Array(vector.length);
  if (sum === 0) return out;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! * scale;
  return out;
}

export interface VectorSearchOptions<K> {
  limit: number;
  /** Only keys for which this returns true are scored (checked before the dot product). */
  accept?: (key: K) => boolean;
}

/**
 * Vectors of one dimension stored row by row in a single Float32Array (slots of removed vectors are
 * reused), searched exhaustively: exact results, and cache-friendly enough for tens of thousands of
 * vectors per user. Callers store unit vectors, so the dot product is the cosine similarity.
 */
export class VectorIndex<K> {
  private data: Float32Array;
  private keys: Array<K | undefined> = [];
  private readonly slots = new Map<K, number>();
  private readonly free: number[] = [];

  constructor(readonly dimensions: number) {
    if (!Number.isInteger(dimensions) || dimensions <= 0) throw new RangeError(`invalid vector dimensions ${dimensions}`);
    this.data = new Float32Array(0);
  }

  get size(): number {
    return this.slots.size;
  }

  has(key: K): boolean {
    return this.slots.has(key);
  }

  /** Adds or replaces the key's vector; throws RangeError when its length is not `dimensions`. */
  set(key: K, vector: ArrayLike<number>): void {
    if (vector.length !== this.dimensions) {
      throw new RangeError(`vector has ${vector.length} dimensions, the index holds ${this.dimensions}`);
    }
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.keys.length;
      if (slot === this.keys.length) this.keys.push(undefined);
      this.slots.set(key, slot);
      this.keys[slot] = key;
      const needed = this.keys.length * this.dimensions;
      if (needed > this.data.length) {
        const grown = new Float32Array(Math.max(needed, this.data.length * 2, 64 * this.dimensions));
        grown.set(this.data);
        this.data = grown;
      }
    }
    this.data.set(vector, slot * this.dimensions);
  }

  delete(key: K): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    this.slots.delete(key);
    this.keys[slot] = undefined;
    this.free.push(slot);
    return true;
  }

  clear(): void {
    this.slots.clear();
    this.keys = [];
    this.free.length = 0;
    this.data = new Float32Array(0);
  }

  /** The `limit` accepted keys with the highest dot product with `query`, best first. */
  search(query: ArrayLike<number>, options: VectorSearchOptions<K>): Scored<K>[] {
    if (query.length !== this.dimensions) {
      throw new RangeError(`query vector has ${query.length} dimensions, the index holds ${this.dimensions}`);
    }
    if (!(options.limit > 0) || this.slots.size === 0) return [];
    const q = query instanceof Float32Array ? query : Float32Array.from(query);
    const { data, dimensions: d } = this;
    const accept = options.accept;
    const top = new TopK(options.limit);
    const end4 = d - (d % 4);
    for (let slot = 0; slot < this.keys.length; slot++) {
      const key = this.keys[slot];
      if (key === undefined || (accept !== undefined && !accept(key))) continue;
      const base = slot * d;
      // Four partial sums: fewer dependent additions per step.
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let i = 0;
      for (; i < end4; i += 4) {
        s0 += data[base + i]! * q[i]!;
        s1 += data[base + i + 1]! * q[i + 1]!;
        s2 += data[base + i + 2]! * q[i + 2]!;
        s3 += data[base + i + 3]! * q[i + 3]!;
      }
      for (; i < d; i++) s0 += data[base + i]! * q[i]!;
      top.push(s0 + s1 + s2 + s3, slot);
    }
    return top.sorted().map(({ position, score }) => ({ key: this.keys[position]!, score }));
  }
}
