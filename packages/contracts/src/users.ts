import { z } from 'zod';
import { timestamp } from './common.js';

export const UserSchema = z
  .object({ id: z.string(), name: z.string(), created_at: timestamp })
  .meta({ id: 'User' });

export const CreateUserBodySchema = z
  .object({ name: z.string().trim().min(1).max(100).describe('Display name, 1..100 characters') })
  .strict();

export const ApiKeySchema = z
  .object({
    id: z.string(),
    user_id: z.string(),
    prefix: z.string().describe('The first characters of the key, to recognise it; the key itself is never shown again'),
    created_at: timestamp,
    revoked_at: timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });

export const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().describe('The secret API key. Shown once: PAI stores only its hash.'),
}).meta({ id: 'CreatedApiKey' });

export const CreateApiKeyBodySchema = z
  .object({ name: z.string().trim().max(100).optional().describe('Optional label') })
  .strict()
  .nullish();

export type UserDto = z.infer<typeof UserSchema>;
export type ApiKeyDto = z.infer<typeof ApiKeySchema>;
export type CreatedApiKeyDto = z.infer<typeof CreatedApiKeySchema>;
