import { z } from 'zod';

/**
 * Configuration is parsed once, at start, from the environment: one zod object whose keys are the
 * environment variables themselves, so a failure names the variable. Values of secret variables are
 * never echoed.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const SECRET = /(KEY|TOKEN|SECRET|PASSWORD)/;

export type Env = Record<string, string | undefined>;

export function parseEnv<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  // Empty strings count as unset: `FOO= pnpm start` should behave like leaving FOO out.
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const variable = String(issue.path[0] ?? '(environment)');
    const raw = cleaned[variable];
    const shown = raw === undefined ? 'unset' : SECRET.test(variable) ? 'a value (hidden)' : JSON.stringify(raw);
    throw new ConfigError(`Invalid configuration: ${variable}: ${issue.message} (got ${shown})`);
  }
  return deepFreeze(result.data);
}

/** Freezes a configuration object and everything in it. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Runs a process's entry point: a ConfigError ends it with its one line on stderr and exit code 1;
 * anything else is thrown on (a crash with its stack, as it should be).
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/** Fails with one line naming every variable that `what` needs and that is unset. */
export function requireVariables(what: string, values: Record<string, unknown>): void {
  const missing = Object.entries(values).filter(([, v]) => v === undefined).map(([name]) => name);
  if (missing.length > 0) throw new ConfigError(`Invalid configuration: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required ${what}`);
}

/** An integer environment variable with bounds and a default. */
export function intVar(defaultValue: number, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return defaultValue;
      const n = Number(v);
      if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer between ${min} and ${max}` });
        return z.NEVER;
      }
      return n;
    });
}

export function urlVar() {
  return z.string().refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'expected an http(s) URL').transform((v) => v.replace(/\/+$/, ''));
}

/** One of the listed values; values named in `later` get a message saying they are not in this build. */
export function choiceVar<const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number], later: readonly string[] = []) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return defaultValue;
      if ((values as readonly string[]).includes(v)) return v as T[number];
      ctx.addIssue({
        code: 'custom',
        message: later.includes(v)
          ? `'${v}' is not available in this version of PAI (supported: ${values.join(', ')})`
          : `expected one of ${values.join(', ')}`,
      });
      return z.NEVER;
    });
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Variables every service reads. */
export const serverEnv = {
  PORT: intVar(8080, 0, 65535),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: choiceVar(LOG_LEVELS, 'info'),
  PAI_INTERNAL_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  PAI_BODY_LIMIT_BYTES: intVar(1_048_576, 1024, 1_073_741_824),
  PAI_SHUTDOWN_GRACE_MS: intVar(10_000, 0, 600_000),
};

export interface ServerConfig {
  port: number;
  host: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Shared secret between PAI services; generated per process when unset (embedded default). */
  internalToken: string | undefined;
  bodyLimitBytes: number;
  shutdownGraceMs: number;
}

export function serverConfigFrom(env: {
  PORT: number; HOST: string; LOG_LEVEL: ServerConfig['logLevel']; PAI_INTERNAL_TOKEN?: string | undefined;
  PAI_BODY_LIMIT_BYTES: number; PAI_SHUTDOWN_GRACE_MS: number;
}): ServerConfig {
  return {
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    internalToken: env.PAI_INTERNAL_TOKEN,
    bodyLimitBytes: env.PAI_BODY_LIMIT_BYTES,
    shutdownGraceMs: env.PAI_SHUTDOWN_GRACE_MS,
  };
}

/** Variables that select the record store (memory and agent services). */
export const storeEnv = {
  PAI_DATA_DIR: z.string().default('./.pai'),
  STORE_BACKEND: choiceVar(['embedded', 'dynamodb'], 'embedded'),
  DYNAMODB_ENDPOINT: urlVar().optional(),
  DYNAMODB_TABLE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{0,200}$/, 'letters, digits, _ . - only').default('pai-'),
  AWS_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'expected an AWS region like us-east-1').optional(),
};

export type StoreConfig =
  | { backend: 'embedded' }
  | { backend: 'dynamodb'; region: string; endpoint: string | undefined; tablePrefix: string };

export function refineStoreEnv(env: { STORE_BACKEND: string; AWS_REGION?: string | undefined }, ctx: z.RefinementCtx): void {
  if (env.STORE_BACKEND === 'dynamodb' && env.AWS_REGION === undefined) {
    ctx.addIssue({ code: 'custom', path: ['AWS_REGION'], message: 'is required with STORE_BACKEND=dynamodb' });
  }
}

export function storeConfigFrom(env: { STORE_BACKEND: 'embedded' | 'dynamodb'; DYNAMODB_ENDPOINT?: string | undefined; DYNAMODB_TABLE_PREFIX: string; AWS_REGION?: string | undefined }): StoreConfig {
  return env.STORE_BACKEND === 'dynamodb'
    ? { backend: 'dynamodb', region: env.AWS_REGION!, endpoint: env.DYNAMODB_ENDPOINT, tablePrefix: env.DYNAMODB_TABLE_PREFIX }
    : { backend: 'embedded' };
}

export { z };
