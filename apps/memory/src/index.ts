export { buildApp, VERSION, type MemoryOverrides } from './app.js';
export { memoryService, MEMORY_TAGS, type MemoryServiceOptions } from './service.js';
export { loadMemoryConfig, memoryConfigFrom, memoryEnv, refineMemoryEnv, type MemoryConfig } from './config.js';
export { resolveAdminKey, type AdminKey } from './domain/admin-key.js';
export { createStoreAuthenticator } from './domain/accounts.js';
export { openMemoryStores, type MemoryStores } from './plugins/open-store.js';
export { createSealedStore } from './plugins/sealed-store.js';
export { createLocalMemoryClient } from './local-client.js';
export { rotateDataKeys } from './domain/rotate-keys.js';
