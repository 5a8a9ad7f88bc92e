import { AgentErrors } from '@pai/errors';
import { decodeCursor, encodeCursor, type AgentRecord, type AgentStore, type AgentVersionRecord, type JudgeSettings, type Page, type PageRequest } from '@pai/store';
import {
  builtInVersion, DEFAULT_AGENT_ID, pickVersion, stickyBucket, type AgentCatalog, type AgentRoute, type AgentVersion,
} from './agents.js';

/** Agent ids are slugs; anything else cannot name an agent (and is answered 404 like an unknown one). */
export const AGENT_SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** An agent as the API shows it: stored, or the untouched built-in `default`. */
export interface RegistryAgent {
  id: string;
  name: string;
  description: string | null;
  routing: Record<string, number>;
  latestVersion: number;
  builtIn: boolean;
  createdAt: string | null;
  updatedAt: string | null;
}

export interface RegistryVersion {
  agentId: string;
  version: number;
  systemPrompt: string;
  model: string;
  temperature: number | null;
  maxTokens: number | null;
  judge: JudgeSettings | null;
  builtIn: boolean;
  createdAt: string | null;
}

export interface NewVersion {
  systemPrompt: string;
  model: string;
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  judge?: { model?: string | undefined; rubric: string; minScore: number; maxAttempts: number } | undefined;
}

export interface AgentRegistry extends AgentCatalog {
  /** Throws PAI_AGENT_CONFLICT when the id is taken (`default` always is). */
  create(userId: string, input: { id: string; name: string; description?: string | undefined }): Promise<RegistryAgent>;
  get(userId: string, id: string): Promise<RegistryAgent>;
  /** The agent with every version, oldest first. */
  detail(userId: string, id: string): Promise<{ agent: RegistryAgent; versions: RegistryVersion[] }>;
  /** `default` first, then the user's agents by id. */
  list(userId: string, page: PageRequest): Promise<Page<RegistryAgent>>;
  /** A new immutable version; an agent's first version takes 100 % of the traffic. */
  addVersion(userId: string, id: string, input: NewVersion): Promise<RegistryVersion>;
  version(userId: string, id: string, version: number): Promise<RegistryVersion>;
  /** Validates and replaces the weights: this is how traffic is split and how a rollout is rolled back. */
  setRouting(userId: string, id: string, weights: Record<string, number>): Promise<RegistryAgent>;
}

export interface RegistryOptions {
  store: AgentStore;
  /** Version 1 of `default`: the server's configured prompt and model. */
  builtIn: { systemPrompt: string; model: string; maxTokens: number };
  now?: () => Date;
  /** Versions are immutable, so they are cached (this many at most). */
  cacheSize?: number;
}

const LIST_SCOPE = 'agents';
const DEFAULT_NAME = 'Default';
const DEFAULT_DESCRIPTION = 'The built-in agent (version 1 is configured by the server).';

/** Weights as the user sent them, validated: whole percents 0..100 of existing versions, summing to 100. */
export function validateWeights(weights: Record<string, number>, latestVersion: number, agentId: string): Record<string, number> {
  const details: Array<{ field: string; message: string }> = [];
  let sum = 0;
  for (const [key, weight] of Object.entries(weights)) {
    const field = `body.weights.${key}`;
    if (!/^[1-9]\d{0,8}$/.test(key)) details.push({ field, message: 'keys are version numbers (1, 2, 3…)' });
    else if (Number(key) > latestVersion) details.push({ field, message: `agent '${agentId}' has no version ${key}` });
    if (!Number.isInteger(weight) || weight < 0 || weight > 100) details.push({ field, message: 'weights are whole percents 0..100' });
    else sum += weight;
  }
  if (details.length === 0 && sum !== 100) details.push({ field: 'body.weights', message: `the weights sum to ${sum}; they must sum to 100` });
  if (details.length > 0) {
    throw AgentErrors.invalidRouting('The routing weights are invalid; see details.', { details });
  }
  // Canonical order (by version) so that what is stored reads the way it is walked.
  return Object.fromEntries(Object.entries(weights).sort(([a], [b]) => Number(a) - Number(b)));
}

function agentOf(record: AgentRecord): RegistryAgent {
  return {
    id: record.id, name: record.name, description: record.description, routing: record.routing, latestVersion: record.latestVersion,
    builtIn: record.id === DEFAULT_AGENT_ID, createdAt: record.createdAt, updatedAt: record.updatedAt,
  };
}

function versionOf(record: AgentVersionRecord): RegistryVersion {
  return {
    agentId: record.agentId, version: record.version, systemPrompt: record.systemPrompt, model: record.model,
    temperature: record.temperature, maxTokens: record.maxTokens, judge: record.judge, builtIn: false, createdAt: record.createdAt,
  };
}

/** What a chat turn needs of a version. */
export function servingVersion(version: RegistryVersion): AgentVersion {
  const serving: AgentVersion = { agentId: version.agentId, version: version.version, systemPrompt: version.systemPrompt, model: version.model };
  if (version.temperature !== null) serving.temperature = version.temperature;
  if (version.maxTokens !== null) serving.maxTokens = version.maxTokens;
  if (version.judge !== null) serving.judge = version.judge;
  return serving;
}

/**
 * The agent registry over the store port. Agents belong to a user: every lookup takes the user's id and
 * another user's agent is not found. `default` exists for everyone: until the user adds a version to it,
 * it is the server's built-in version 1 and nothing is stored.
 */
export function createAgentRegistry(options: RegistryOptions): AgentRegistry {
  const { store } = options;
  const now = options.now ?? (() => new Date());
  const builtIn = builtInVersion(options.builtIn);
  const builtInView: RegistryVersion = {
    agentId: DEFAULT_AGENT_ID, version: 1, systemPrompt: builtIn.systemPrompt, model: builtIn.model, temperature: null,
    maxTokens: builtIn.maxTokens ?? null, judge: null, builtIn: true, createdAt: null,
  };
  const untouchedDefault: RegistryAgent = {
    id: DEFAULT_AGENT_ID, name: DEFAULT_NAME, description: DEFAULT_DESCRIPTION, routing: { 1: 100 }, latestVersion: 1,
    builtIn: true, createdAt: null, updatedAt: null,
  };
  const cacheSize = options.cacheSize ?? 1_000;
  const cache = new Map<string, RegistryVersion>();

  async function find(userId: string, id: string): Promise<RegistryAgent> {
    if (!AGENT_SLUG.test(id)) throw AgentErrors.notFound(id);
    const record = await store.get(userId, id);
    if (record) return agentOf(record);
    if (id === DEFAULT_AGENT_ID) return untouchedDefault;
    throw AgentErrors.notFound(id);
  }

  async function load(userId: string, agentId: string, version: number): Promise<RegistryVersion> {
    if (agentId === DEFAULT_AGENT_ID && version === 1) return builtInView;
    const key = `${userId}\u0000${agentId}\u0000${version}`;
    const cached = cache.get(key);
    if (cached) return cached;
    const record = await store.getVersion(userId, agentId, version);
    if (!record) throw AgentErrors.versionNotFound(agentId, version);
    const loaded = versionOf(record);
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
    cache.set(key, loaded);
    return loaded;
  }

  /** The user's `default` record, created on first change with version 1 reserved for the built-in. */
  async function ensureDefault(userId: string): Promise<void> {
    if (await store.get(userId, DEFAULT_AGENT_ID)) return;
    const at = now().toISOString();
    try {
      await store.create({
        id: DEFAULT_AGENT_ID, userId, name: DEFAULT_NAME, description: DEFAULT_DESCRIPTION, routing: { 1: 100 }, latestVersion: 1,
        createdAt: at, updatedAt: at,
      });
    } catch (error) {
      // A concurrent request created it first: that is the record we wanted.
      if (!AgentErrors.conflict.is(error)) throw error;
    }
  }

  return {
    async route(userId, agentId): Promise<AgentRoute> {
      const agent = await find(userId, agentId);
      if (pickVersion(agent.routing, 0) === null) {
        throw AgentErrors.invalidRouting(`Agent '${agentId}' has no version to serve yet; add one with POST /v1/agents/${agentId}/versions.`);
      }
      return {
        agentId,
        async pick(conversationId) {
          const version = pickVersion(agent.routing, stickyBucket(agentId, conversationId))!;
          return servingVersion(await load(userId, agentId, version));
        },
      };
    },

    async create(userId, input) {
      if (input.id === DEFAULT_AGENT_ID) throw AgentErrors.conflict(input.id);
      const at = now().toISOString();
      const record: AgentRecord = {
        id: input.id, userId, name: input.name, description: input.description ?? null, routing: {}, latestVersion: 0,
        createdAt: at, updatedAt: at,
      };
      await store.create(record);
      return agentOf(record);
    },

    get: find,

    async detail(userId, id) {
      const agent = await find(userId, id);
      const stored = agent.createdAt === null ? [] : (await store.listVersions(userId, id)).map(versionOf);
      return { agent, versions: id === DEFAULT_AGENT_ID ? [builtInView, ...stored] : stored };
    },

    async list(userId, page) {
      const items: RegistryAgent[] = [];
      let storeCursor: string | undefined;
      if (page.cursor === undefined) {
        items.push(await find(userId, DEFAULT_AGENT_ID));
      } else {
        storeCursor = decodeCursor<string>(LIST_SCOPE, page.cursor, 'string') || undefined;
      }
      const limit = page.limit - items.length;
      if (limit === 0) {
        // Only `default` fits on this page: point at the stored agents only when there are any.
        const peek = await store.list(userId, { limit: 2 });
        const more = peek.items.some((a) => a.id !== DEFAULT_AGENT_ID);
        return { items, nextCursor: more ? encodeCursor(LIST_SCOPE, '') : null };
      }
      const stored = await store.list(userId, { limit, cursor: storeCursor });
      items.push(...stored.items.filter((a) => a.id !== DEFAULT_AGENT_ID).map(agentOf));
      return { items, nextCursor: stored.nextCursor === null ? null : encodeCursor(LIST_SCOPE, stored.nextCursor) };
    },

    async addVersion(userId, id, input) {
      let agent = await find(userId, id);
      if (id === DEFAULT_AGENT_ID && agent.createdAt === null) {
        await ensureDefault(userId);
        agent = await find(userId, id);
      }
      const record = await store.addVersion({
        agentId: id, userId, systemPrompt: input.systemPrompt, model: input.model,
        temperature: input.temperature ?? null, maxTokens: input.maxTokens ?? null,
        judge: input.judge
          ? { model: input.judge.model ?? null, rubric: input.judge.rubric, minScore: input.judge.minScore, maxAttempts: input.judge.maxAttempts }
          : null,
        createdAt: now().toISOString(),
      }, agent.latestVersion === 0 ? { 1: 100 } : undefined);
      return versionOf(record);
    },

    async version(userId, id, version) {
      const agent = await find(userId, id);
      if (version < 1 || version > agent.latestVersion) throw AgentErrors.versionNotFound(id, version);
      return load(userId, id, version);
    },

    async setRouting(userId, id, weights) {
      const agent = await find(userId, id);
      const routing = validateWeights(weights, agent.latestVersion, id);
      if (id === DEFAULT_AGENT_ID && agent.createdAt === null) await ensureDefault(userId);
      const updated = await store.setRouting(userId, id, routing, now().toISOString());
      if (!updated) throw AgentErrors.notFound(id);
      return agentOf(updated);
    },
  };
}
