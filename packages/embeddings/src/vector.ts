/**
 * Vector helpers shared by the port, the adapters and the search index: similarity, normalization and a
 * compact wire/storage form (Float32, little-endian, base64).
 */

/**
 * A vector whose squared length is this close to 1 is already normalized: it is kept bit for bit, so a
 * vector that went through JSON or base64 and back compares equal to the original.
 */
const UNIT_TOLERANCE = 1e-6;

/** Cosine of the angle between `a` and `b`, in [-1, 1]; 0 when either is the zero vector. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new RangeError(`cosineSimilarity needs vectors of one length (got ${a.length} and ${b.length}).`);
  }
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  if (normA === 0 || normB === 0) return 0;
  // Float rounding can step just outside [-1, 1].
  return Math.max(-1, Math.min(1, dot / Math.sqrt(normA * normB)));
}

/**
 * `v` scaled to unit length, as a new Float32Array (the input is never changed). The zero vector has no
 * direction: it comes back as zeros.
 */
export function normalize(v: ArrayLike<number>): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i += 1) sum += v[i]! * v[i]!;
  const out = Float32Array.from(v);
  if (sum === 0 || Math.abs(sum - 1) <= UNIT_TOLERANCE) return out;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < out.length; i += 1) out[i] = v[i]! * scale;
  return out;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The vector's Float32 values, little-endian, in base64 (what OpenAI's `encoding_format: "base64"` sends). */
export function vectorToBase64(v: Float32Array): string {
  if (LITTLE_ENDIAN_HOST) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  const bytes = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i += 1) bytes.writeFloatLE(v[i]!, i * 4);
  return bytes.toString('base64');
}

/** The inverse of `vectorToBase64`; throws a RangeError when the text is not whole Float32 values. */
export function vectorFromBase64(text: string): Float32Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new RangeError('The vector is not base64 text.');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0) {
    throw new RangeError(`A base64 vector must decode to whole 4-byte floats (got ${bytes.length} bytes).`);
  }
  // Copied into a buffer of its own: Buffer.from may return a slice of a shared pool at any offset.
  const out = new Float32Array(bytes.length / 4);
  if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(bytes);
  else for (let i = 0; i < out.length; i += 1) out[i] = bytes.readFloatLE(i * 4);
  return out;
}
