export * from './openai-stand-in.js';
export * from './bedrock-stand-in.js';
