import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { buildApp, loadMemoryConfig } from '@pai/memory';
import type { ServiceApp } from '@pai/service-kit';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface MemoryHarness {
  app: ServiceApp;
  dataDir: string;
  admin: Record<string, string>;
  /** Creates a user and returns headers that authenticate as them. */
  newUser(name?: string): Promise<{ id: string; headers: Record<string, string>; keyId: string }>;
}

export async function buildMemory(t: Test, env: Record<string, string> = {}): Promise<MemoryHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pai-memory-'));
  const config = loadMemoryConfig({ PAI_DATA_DIR: dataDir, PAI_ADMIN_API_KEY: ADMIN_KEY, ...env });
  const app = await buildApp(config, { logger: false });
  t.teardown(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };
  return {
    app,
    dataDir,
    admin,
    async newUser(name = 'someone') {
      const user = await app.inject({ method: 'POST', url: '/v1/users', headers: admin, payload: { name } });
      const id = user.json().id as string;
      const key = await app.inject({ method: 'POST', url: `/v1/users/${id}/api-keys`, headers: admin, payload: {} });
      return { id, keyId: key.json().id, headers: { authorization: `Bearer ${key.json().key}` } };
    },
  };
}
