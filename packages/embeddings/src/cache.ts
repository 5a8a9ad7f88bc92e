/**
 * An in-memory LRU of vectors, so identical text is embedded once. Keys are SHA-256 digests, so the cache
 * holds no text; it is never written to disk.
 */
import { createHash } from 'node:crypto';

/** The cache key of `text` for one provider, model and vector size. */
export function cacheKey(provider: string, model: string, dimensions: number, text: string): string {
  // NUL separators: no model id contains one, so no two (model, text) pairs share a key.
  return createHash('sha256').update(`${provider}\0${model}\0${dimensions}\0`).update(text).digest('base64');
}

export class VectorCache {
  /** A Map iterates in insertion order: re-inserting on use keeps the least recently used first. */
  private readonly entries = new Map<string, Float32Array>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Float32Array | undefined {
    const vector = this.entries.get(key);
    if (vector !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, vector);
    }
    return vector;
  }

  set(key: string, vector: Float32Array): void {
    if (this.capacity <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, vector);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
