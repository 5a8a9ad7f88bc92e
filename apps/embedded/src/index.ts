export { buildEmbeddedApp, VERSION, type EmbeddedApp, type EmbeddedOverrides } from './app.js';
export { loadEmbeddedConfig, type EmbeddedConfig } from './config.js';
