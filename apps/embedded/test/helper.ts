import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startOpenAiStandIn, type OpenAiStandIn } from '@pai/model-provider/testing';
import { buildEmbeddedApp, loadEmbeddedConfig } from '@pai/embedded';
import type { ServiceApp } from '@pai/service-kit';

export const ADMIN_KEY = 'embedded-test-admin-key-0123456789';

export interface Harness {
  app: ServiceApp;
  standIn: OpenAiStandIn;
  dataDir: string;
  env: Record<string, string>;
  logs: string[];
  /** Base URL when started with listen: true. */
  url: string;
  newUser(name?: string): Promise<{ id: string; key: string; headers: Record<string, string> }>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  listen?: boolean;
  dataDir?: string;
  standIn?: OpenAiStandIn;
}

export function tempDir(t: Test, prefix = 'pai-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The embedded app against a fresh data dir and an OpenAI-compatible stand-in model. */
export async function startPai(t: Test, options: HarnessOptions = {}): Promise<Harness> {
  const standIn = options.standIn ?? (await startOpenAiStandIn());
  if (!options.standIn) t.teardown(() => standIn.close());
  const dataDir = options.dataDir ?? tempDir(t);
  const env = {
    PAI_DATA_DIR: dataDir,
    PAI_ADMIN_API_KEY: ADMIN_KEY,
    OPENAI_BASE_URL: standIn.url,
    LLM_MODEL: 'stand-in',
    LLM_FIRST_TOKEN_TIMEOUT_MS: '2000',
    LLM_MAX_RETRIES: '1',
    LOG_LEVEL: 'debug',
    ...options.env,
  };
  const logs: string[] = [];
  const stream = { write: (line: string) => logs.push(line) } as unknown as NodeJS.WritableStream;
  const { app } = await buildEmbeddedApp(loadEmbeddedConfig(env), { logger: { level: env.LOG_LEVEL, stream } });
  let url = '';
  if (options.listen) url = await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };
  return {
    app, standIn, dataDir, env, logs, url,
    async newUser(name = 'tester') {
      const user = (await app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { name } })).json();
      const key = (await app.inject({ method: 'POST', url: `/v1/users/${user.id}/api-keys`, headers: admin, payload: {} })).json();
      return { id: user.id, key: key.key, headers: { authorization: `Bearer ${key.key}` } };
    },
  };
}

export interface SseEvent {
  event: string;
  data: any;
}

/** Parses a complete text/event-stream body into events; comments (pings) are returned as event ':'. */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    if (block.startsWith(':')) {
      events.push({ event: ':', data: block.slice(1).trim() });
      continue;
    }
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    events.push({ event, data: JSON.parse(data.join('\n')) });
  }
  return events;
}

/** Reads until `done` holds (or `ms` passes) and returns the last value read. */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 4000): Promise<T> {
  const end = Date.now() + ms;
  let value = await read();
  while (!done(value) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 25));
    value = await read();
  }
  return value;
}

/** A multipart/form-data body (for app.inject): fields first, then one file part. */
export function multipartBody(
  fields: Record<string, string>,
  file: { name?: string; filename: string; contentType: string; data: Uint8Array | string } | null,
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----pai-test-${Math.random().toString(16).slice(2)}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name ?? 'file'}"; filename="${file.filename}"\r\nContent-Type: ${file.contentType}\r\n\r\n`));
    parts.push(typeof file.data === 'string' ? Buffer.from(file.data) : Buffer.from(file.data));
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
