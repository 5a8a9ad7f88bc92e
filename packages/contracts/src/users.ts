import { z } from 'zod';
import { timestamp } from './common.js';

export const UserSchema = z
  .object({
    id: z.string().describe('User id (usr_…)'),
    name: z.string().describe('Display name'),
    created_at: timestamp.describe('When the user was created'),
  })
  .meta({ id: 'User' });

export const CreateUserBodySchema = z
  .object({ name: z.string().trim().min(1).max(100).describe('Display name, 1..100 characters') })
  .strict();

export const ApiKeySchema = z
  .object({
    id: z.string().describe('API key id (key_…), used to revoke it'),
    user_id: z.string().describe('The user the key acts as'),
    prefix: z.string().describe('The first characters of the key, to recognise it; the key itself is never shown again'),
    created_at: timestamp.describe('When the key was created'),
    revoked_at: timestamp.nullable().describe('When the key was revoked; null while it works'),
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
