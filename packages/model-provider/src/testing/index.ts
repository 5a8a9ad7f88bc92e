export * from './openai-stand-in.js';
