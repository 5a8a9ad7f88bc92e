/**
 * An in-memory `DataKeyStorage`, for tests only: production keyrings are backed by the store port
 * (`store.dataKeys`), which persists wrapped keys. Counts calls and can delay them, so tests can widen
 * race windows.
 */
import type { DataKeyRecord, DataKeyStorage } from '../keyring.js';

export interface MemoryDataKeyStorage extends DataKeyStorage {
  readonly records: Map<string, DataKeyRecord>;
  readonly calls: { get: number; putIfAbsent: number; replace: number; delete: number };
  /** Every call waits this long first (default 0). */
  delayMs: number;
}

export function createMemoryDataKeyStorage(): MemoryDataKeyStorage {
  const records = new Map<string, DataKeyRecord>();
  const calls = { get: 0, putIfAbsent: 0, replace: 0, delete: 0 };
  const storage: MemoryDataKeyStorage = {
    records,
    calls,
    delayMs: 0,
    async get(userId) {
      calls.get++;
      await pause(storage.delayMs);
      const record = records.get(userId);
      return record === undefined ? null : { ...record };
    },
    async putIfAbsent(record) {
      calls.putIfAbsent++;
      await pause(storage.delayMs);
      const existing = records.get(record.userId);
      if (existing !== undefined) return { ...existing };
      records.set(record.userId, { ...record });
      return { ...record };
    },
    async replace(userId, expectedWrapped, record) {
      calls.replace++;
      await pause(storage.delayMs);
      if (records.get(userId)?.wrapped !== expectedWrapped) return false;
      records.set(userId, { ...record, userId });
      return true;
    },
    async delete(userId) {
      calls.delete++;
      await pause(storage.delayMs);
      return records.delete(userId);
    },
  };
  return storage;
}

function pause(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
