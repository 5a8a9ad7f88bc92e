/**
 * The agent service on its own for registry tests: a real embedded store (in memory), an in-memory
 * memory service, keys that name users, and a scripted model that tells generator calls from judge calls.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Test } from 'tap';
import { LlmErrors } from '@pai/errors';
import { newId } from '@pai/ids';
import type { MemoryClient, MessageDto } from '@pai/contracts';
import type { ModelProvider, ModelRequest, ModelResponse } from '@pai/model-provider';
import { authPlugin, createServiceApp, type ServiceApp } from '@pai/service-kit';
import { createEmbeddedStore, type JobQueue, type Store } from '@pai/store';
import { agentService, loadAgentConfig } from '@pai/agent';

export const JUDGE_SYSTEM_PREFIX = 'You are a strict evaluator';

export interface ModelCallLog {
  kind: 'generator' | 'judge';
  model: string;
  request: ModelRequest;
}

/** What the scripted model answers: text, or an error to throw; `delayMs` waits first (abortably). */
export type Scripted = string | Error | { text: string; delayMs: number };

export interface ScriptedModel extends ModelProvider {
  calls: ModelCallLog[];
  /** Decides generator answers (default: `answer from <model>`; retries append ` (improved)`). */
  generate: (request: ModelRequest, call: ModelCallLog) => Scripted;
  /** Decides judge answers (default: a passing 9). */
  judge: (request: ModelRequest, call: ModelCallLog) => Scripted;
}

const tokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

export const isRetry = (request: ModelRequest) => request.messages.some((m) => m.role === 'user' && m.content.startsWith('A reviewer scored'));
/** The draft a judge call is scoring. */
export const draftJudged = (request: ModelRequest) => /<answer>\n([\s\S]*)\n<\/answer>/.exec(request.messages[1]!.content)?.[1] ?? '';

export function scriptedModel(): ScriptedModel {
  const calls: ModelCallLog[] = [];
  const model: ScriptedModel = {
    name: 'openai', endpoint: 'scripted://', defaultModel: 'stand-in', calls,
    generate: (request, call) => `answer from ${call.model}${isRetry(request) ? ' (improved)' : ''}`,
    judge: () => '{"score": 9, "verdict": "pass", "feedback": "fine"}',
    async complete(request, options): Promise<ModelResponse> {
      const kind = request.messages[0]?.content.startsWith(JUDGE_SYSTEM_PREFIX) ? 'judge' : 'generator';
      const call: ModelCallLog = { kind, model: request.model ?? 'stand-in', request };
      calls.push(call);
      const scripted = kind === 'judge' ? model.judge(request, call) : model.generate(request, call);
      if (scripted instanceof Error) throw scripted;
      let text = scripted as string;
      if (typeof scripted === 'object') {
        try {
          await delay(scripted.delayMs, undefined, { signal: options?.signal });
        } catch {
          throw LlmErrors.aborted();
        }
        text = scripted.text;
      }
      if (options?.signal?.aborted) throw LlmErrors.aborted();
      const input = request.messages.reduce((n, m) => n + tokens(m.content), 0);
      return { text, model: call.model, usage: { inputTokens: input, outputTokens: tokens(text), estimated: false }, finishReason: 'stop' };
    },
    async *stream(request, options) {
      const answer = await model.complete(request, options);
      const half = Math.ceil(answer.text.length / 2);
      for (const piece of [answer.text.slice(0, half), answer.text.slice(half)]) if (piece) yield { type: 'delta', text: piece };
      yield { type: 'done', model: answer.model, usage: answer.usage, finishReason: 'stop' };
    },
    async check() {
      return { ok: true };
    },
    async close() {},
  };
  return model;
}

/** Conversations and messages in memory; retrieval finds nothing. */
export function memoryStandIn(): MemoryClient & { conversations: Map<string, { agentId: string; messages: MessageDto[] }> } {
  const conversations = new Map<string, { agentId: string; messages: MessageDto[] }>();
  const at = () => new Date().toISOString();
  const unused = async (): Promise<never> => {
    throw new Error('not used by these tests');
  };
  return {
    conversations,
    async verifyKey() {
      return null;
    },
    async beginTurn(body) {
      const id = body.conversation_id ?? newId('conv');
      let conversation = conversations.get(id);
      if (!conversation) {
        conversation = { agentId: body.agent_id ?? 'default', messages: [] };
        conversations.set(id, conversation);
      }
      const history = conversation.messages.slice(-(body.history_limit ?? 40));
      const userMessage: MessageDto = { id: body.message.id, role: 'user', content: body.message.content, created_at: at() };
      conversation.messages.push(userMessage);
      return {
        conversation: { id, title: null, agent_id: conversation.agentId, created_at: at(), updated_at: at() },
        created: body.conversation_id === undefined,
        user_message: userMessage,
        history,
        summary: null,
        history_complete: true,
      };
    },
    async appendMessage(conversationId, body) {
      const message: MessageDto = { id: body.id, role: body.role, content: body.content, created_at: at(), ...(body.incomplete ? { incomplete: true } : {}) };
      conversations.get(conversationId)!.messages.push(message);
      return message;
    },
    formationContext: unused,
    applyFormation: unused,
    summaryContext: unused,
    applySummary: unused,
    async searchMemories() {
      return [];
    },
    async ready() {},
    async close() {},
  };
}

/** Accepts background work and never runs it (memory formation is not under test here). */
function idleJobs(): JobQueue {
  return {
    async enqueue() {},
    async claim() {
      return [];
    },
    async complete() {},
    async release() {},
    async size() {
      return 0;
    },
    async purgeUser() {
      return 0;
    },
    async close() {},
  };
}

export interface AgentRig {
  app: ServiceApp;
  store: Store;
  /** The scripted model (unused when the rig was given a real provider). */
  model: ScriptedModel;
  memory: ReturnType<typeof memoryStandIn>;
  /** Authorization headers of a user (any name makes a user). */
  as(userId: string): Record<string, string>;
}

export interface AgentRigOptions {
  env?: Record<string, string>;
  judgeTimeoutMs?: number;
  /** A store that outlives the app (the caller closes it). */
  store?: Store;
  /** A real provider instead of the scripted model. */
  provider?: ModelProvider;
}

export async function startAgentRig(t: Test, options: AgentRigOptions = {}): Promise<AgentRig> {
  const config = loadAgentConfig({
    MEMORY_SERVICE_URL: 'http://127.0.0.1:1', LLM_MODEL: 'stand-in', PAI_SSE_PING_MS: '50',
    PAI_MODEL_PRICES: JSON.stringify({ 'gen-a': { input_per_1k: 1, output_per_1k: 2 }, 'gen-b': { input_per_1k: 3, output_per_1k: 4 }, judge: { input_per_1k: 10, output_per_1k: 10 } }),
    ...options.env,
  });
  const store = options.store ?? createEmbeddedStore({ path: ':memory:' });
  const model = scriptedModel();
  const memory = memoryStandIn();
  const app = await createServiceApp({ name: 'agent', title: 'agent', description: 'test', version: '0', bodyLimitBytes: 1_048_576, logger: false });
  await app.register(authPlugin, {
    authenticator: { authenticate: async (secret) => (secret.startsWith('key-') ? { kind: 'user', userId: secret.slice(4), keyId: null } : null) },
    internalToken: randomBytes(16).toString('hex'),
  });
  await app.register(agentService, {
    config, model: options.provider ?? model, memory, store, jobs: idleJobs(), ...(options.judgeTimeoutMs !== undefined ? { judgeTimeoutMs: options.judgeTimeoutMs } : {}),
  });
  await app.ready();
  t.teardown(async () => {
    await app.close();
    if (!options.store) await store.close();
  });
  return { app, store, model, memory, as: (userId) => ({ authorization: `Bearer key-${userId}` }) };
}

/** Parses a complete text/event-stream body; pings are dropped. */
export function parseSse(text: string): Array<{ event: string; data: any }> {
  const events: Array<{ event: string; data: any }> = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim() || block.startsWith(':')) continue;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    events.push({ event, data: data[0] === '[DONE]' ? '[DONE]' : JSON.parse(data.join('\n')) });
  }
  return events;
}
