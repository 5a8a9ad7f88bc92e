import fp from 'fastify-plugin';
import type { Store } from '@pai/store';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
  }
}

/** Decorates the app with the store, reports it in /readyz, and closes it with the app. */
export const storePlugin = fp<{ store: Store }>(async (app, { store }) => {
  app.decorate('store', store);
  app.readiness.register('store', async () => {
    await store.ping();
    return { ok: true };
  });
  app.addHook('onClose', async () => {
    await store.close();
  });
}, { name: 'pai-store' });
