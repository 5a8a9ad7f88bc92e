/** Pieces every protocol stand-in uses: directives, echo text, abort waits, body reading. */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';

/** `[[stand-in:<kind>]]` or `[[stand-in:<kind>:<arg>]]` in the last user message picks a behaviour. */
export const DIRECTIVE = /\[\[stand-in:([a-z-]+)(?::([^\]]*))?\]\]/;

/** `arg` as a count when it is one, otherwise `fallback`. */
export function countArg(arg: string | undefined, fallback: number): number {
  return arg !== undefined && /^\d+$/.test(arg) ? Number(arg) : fallback;
}

/** The default answer: the last user message echoed, without its directive. */
export function echoOf(lastUserMessage: string): string {
  const said = lastUserMessage.replace(DIRECTIVE, '').trim();
  return `Echo: ${said || '(nothing)'}`;
}

/** Word-sized pieces that concatenate back to `text`. */
export function pieces(text: string): string[] {
  return text.split(/(?<=\s)(?=\S)/).filter((piece) => piece.length > 0);
}

export function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** Resolves true once `done()` holds (checked whenever a waiter is woken), false after `withinMs`. */
export function waitFor(done: () => boolean, waiters: Set<() => void>, withinMs: number): Promise<boolean> {
  if (done()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const finish = (result: boolean): void => {
      clearTimeout(timer);
      waiters.delete(wake);
      resolve(result);
    };
    const wake = (): void => {
      if (done()) finish(true);
    };
    const timer = setTimeout(() => finish(false), withinMs);
    waiters.add(wake);
  });
}

export async function readBody(req: IncomingMessage | Http2ServerRequest): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The parsed JSON object, or undefined for an empty body, invalid JSON or a non-object. */
export function parseJsonObject<T extends object>(raw: string): T | undefined {
  if (raw === '') return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}
