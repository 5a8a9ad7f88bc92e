import type { FastifyPluginAsync } from 'fastify';
import type { Authenticator } from '@pai/service-kit';
import type { Store } from '@pai/store';
import { storePlugin } from './plugins/store.js';
import { userRoutes } from './routes/users/index.js';
import { apiKeyRoutes } from './routes/api-keys/index.js';
import { conversationRoutes } from './routes/conversations/index.js';
import { internalRoutes } from './routes/internal/index.js';
import { memoryRoutes } from './routes/memories/index.js';
import { portabilityRoutes } from './routes/portability/index.js';
import type { Shredder } from './domain/memories.js';

export interface MemoryServiceOptions {
  store: Store;
  authenticator: Authenticator;
  /** Destroys a user's data key (crypto-shred). */
  shred: Shredder;
  /** Body limit of POST /v1/import. */
  importLimitBytes: number;
}

export const MEMORY_TAGS = [
  { name: 'users', description: 'Users (admin)' },
  { name: 'api-keys', description: 'API keys: created by the admin, shown once, stored hashed' },
  { name: 'conversations', description: 'Conversations and their messages (short-term memory)' },
  { name: 'memories', description: 'Long-term memories: facts, preferences, people and plans PAI keeps about the user' },
  { name: 'portability', description: 'Export everything you own; import it elsewhere' },
  { name: 'internal', description: 'Service-to-service routes; need the internal token (x-pai-internal-token)' },
];

/** Everything the memory service serves, as one encapsulated plugin (used alone or in the embedded app). */
export const memoryService: FastifyPluginAsync<MemoryServiceOptions> = async (app, options) => {
  await app.register(storePlugin, { store: options.store });
  await app.register(userRoutes, { shred: options.shred });
  await app.register(apiKeyRoutes);
  await app.register(conversationRoutes);
  await app.register(memoryRoutes);
  await app.register(portabilityRoutes, { importLimitBytes: options.importLimitBytes });
  await app.register(internalRoutes, { authenticator: options.authenticator });
};
