export * from './common.js';
export * from './users.js';
export * from './conversations.js';
export * from './chat.js';
export * from './internal.js';
export * from './clients/transport.js';
export * from './clients/memory-client.js';
