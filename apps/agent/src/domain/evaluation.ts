import { performance } from 'node:perf_hooks';
import { newId } from '@pai/ids';
import { AgentErrors, RequestErrors, defineError, isPaiError } from '@pai/errors';
import { AGENT_LIMITS, type EvaluationDto, type EvaluationResultDto } from '@pai/contracts';
import type { ModelProvider, ModelRequest } from '@pai/model-provider';
import type { AgentStore, EvaluationRecord, JudgeSettings, UsageStore } from '@pai/store';
import { checkDailyBudget } from './limits.js';
import { generateJudged, type ModelCall } from './judge.js';
import type { AgentRegistry, RegistryVersion } from './registry.js';
import type { UsageRecorder } from './usage.js';

export const EvaluationErrors = {
  tooMany: defineError<[max: number]>('PAI_EVALUATION_LIMIT', 429,
    (max) => `At most ${max} evaluations can run at once per user; wait for one to finish.`),
};

export interface EvaluationInput {
  versions: number[];
  cases: Array<{ input: string; expected?: string | undefined }>;
  /** For versions without a judge of their own. */
  judge?: { model?: string | undefined; rubric: string; minScore: number; maxAttempts: number } | undefined;
}

/** What a stored evaluation's `body` holds: the cases (user-authored test prompts) and the results so far. */
interface EvaluationBody {
  cases: Array<{ input: string; expected: string | null }>;
  judge: JudgeSettings | null;
  /** results[case] = one per version, in the order requested; absent until the case ran. */
  results: EvaluationResultDto[][];
}

export interface EvaluationLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface EvaluationDeps {
  store: AgentStore;
  registry: AgentRegistry;
  model: ModelProvider;
  usage: { recorder: UsageRecorder; store: UsageStore };
  dailyTokenBudget: number;
  maxOutputTokens: number;
  log: EvaluationLog;
  judgeTimeoutMs?: number;
  /** Running evaluations per user in this process (429 beyond). */
  maxRunningPerUser?: number;
  /** A running evaluation rewrites its record at least this often, so others can tell it is alive. */
  heartbeatMs?: number;
  now?: () => Date;
}

export interface EvaluationRunner {
  /** Validates, stores the evaluation as running and starts it in the background. */
  start(userId: string, agentId: string, input: EvaluationInput): Promise<EvaluationDto>;
  get(userId: string, agentId: string, id: string): Promise<EvaluationDto>;
  /** Settles once every evaluation running in this process has stopped (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops running evaluations (they are stored as failed) and waits for them. */
  close(): Promise<void>;
}

/** `eval_` + a time-ordered id body (@pai/ids has no evaluation prefix of its own). */
const evaluationId = () => `eval_${newId('req').slice('req_'.length)}`;

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Scores side by side: per version, over the cases it finished. */
function summaryOf(versions: number[], results: EvaluationResultDto[][]): EvaluationDto['summary'] {
  return versions.map((version) => {
    const mine = results.flatMap((row) => row.filter((r) => r.version === version));
    const judged = mine.filter((r) => r.score !== null);
    const passed = judged.filter((r) => r.verdict === 'pass').length;
    return {
      version,
      cases: mine.length,
      judged: judged.length,
      passed,
      errors: mine.filter((r) => r.verdict === 'error').length,
      mean_score: judged.length === 0 ? null : round(judged.reduce((n, r) => n + r.score!, 0) / judged.length, 4),
      pass_rate: judged.length === 0 ? null : round(passed / judged.length, 4),
      input_tokens: mine.reduce((n, r) => n + r.input_tokens, 0),
      output_tokens: mine.reduce((n, r) => n + r.output_tokens, 0),
      cost_usd: round(mine.reduce((n, r) => n + r.cost_usd, 0), 9),
      mean_latency_ms: mine.length === 0 ? null : Math.round(mine.reduce((n, r) => n + r.latency_ms, 0) / mine.length),
    };
  });
}

function parseBody(record: EvaluationRecord): EvaluationBody {
  return JSON.parse(record.body) as EvaluationBody;
}

export function evaluationDto(record: EvaluationRecord): EvaluationDto {
  const body = parseBody(record);
  return {
    id: record.id,
    agent_id: record.agentId,
    versions: record.versions,
    status: record.status,
    progress: { cases_done: record.casesDone, cases_total: record.casesTotal },
    summary: summaryOf(record.versions, body.results),
    cases: body.cases.map((c, index) => ({ index, input: c.input, expected: c.expected, results: body.results[index] ?? [] })),
    error: record.error,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

const errorCodeOf = (error: unknown) => (isPaiError(error) ? error.code : 'PAI_INTERNAL_ERROR');

/**
 * Evaluations run in the background of the agent process, case by case (each case through every version
 * at once), persisting progress after every case. Each version answers with its own system prompt and
 * model, and its own judge loop (or the request's judge when it has none), without memories or history.
 */
export function createEvaluationRunner(deps: EvaluationDeps): EvaluationRunner {
  const now = deps.now ?? (() => new Date());
  const maxRunning = deps.maxRunningPerUser ?? 2;
  const heartbeatMs = deps.heartbeatMs ?? 30_000;
  const staleMs = heartbeatMs * 4;
  const runningPerUser = new Map<string, number>();
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();

  async function resolveVersions(userId: string, agentId: string, input: EvaluationInput): Promise<RegistryVersion[]> {
    const details: Array<{ field: string; message: string }> = [];
    const seen = new Set<number>();
    const versions: RegistryVersion[] = [];
    for (const [i, number] of input.versions.entries()) {
      if (seen.has(number)) {
        details.push({ field: `body.versions.${i}`, message: `version ${number} is listed twice` });
        continue;
      }
      seen.add(number);
      try {
        versions.push(await deps.registry.version(userId, agentId, number));
      } catch (error) {
        if (!AgentErrors.versionNotFound.is(error)) throw error;
        details.push({ field: `body.versions.${i}`, message: `agent '${agentId}' has no version ${number}` });
      }
    }
    if (input.judge === undefined) {
      for (const v of versions.filter((v) => v.judge === null)) {
        details.push({ field: 'body.judge', message: `version ${v.version} has no judge of its own: give one here` });
      }
    }
    if (details.length > 0) throw RequestErrors.validation({ details });
    return versions;
  }

  function runOne(
    userId: string, agentId: string, version: RegistryVersion, judge: JudgeSettings, testCase: EvaluationBody['cases'][number], signal: AbortSignal,
  ): Promise<EvaluationResultDto> {
    const maxTokens = Math.min(version.maxTokens ?? deps.maxOutputTokens, deps.maxOutputTokens);
    const request: ModelRequest = {
      model: version.model,
      messages: [{ role: 'system', content: version.systemPrompt }, { role: 'user', content: testCase.input }],
      maxTokens,
    };
    if (version.temperature !== null) request.temperature = version.temperature;
    const spent = { input: 0, output: 0, cost: 0 };
    const started = performance.now();
    const onCall = async (call: ModelCall) => {
      spent.input += call.usage.inputTokens;
      spent.output += call.usage.outputTokens;
      const cost = await deps.usage.recorder.record({
        userId, conversationId: null, agentId, agentVersion: version.version, provider: deps.model.name, model: call.model, usage: call.usage,
      });
      spent.cost += cost;
      return cost;
    };
    const base = () => ({
      version: version.version, input_tokens: spent.input, output_tokens: spent.output, cost_usd: round(spent.cost, 9),
      latency_ms: Math.round(performance.now() - started),
    });
    return generateJudged({
      model: deps.model, request, judge, userMessage: testCase.input, expected: testCase.expected ?? undefined, signal, onCall,
      ...(deps.judgeTimeoutMs !== undefined ? { timeoutMs: deps.judgeTimeoutMs } : {}),
    }).then(
      (answer) => ({
        ...base(),
        score: answer.score,
        verdict: answer.verdict,
        attempts: answer.attempts.length,
        output: answer.text.slice(0, AGENT_LIMITS.evaluationOutputChars),
        output_truncated: answer.text.length > AGENT_LIMITS.evaluationOutputChars,
        error: null,
      }),
      (error: unknown) => ({
        ...base(), score: null, verdict: 'error' as const, attempts: 0, output: null, output_truncated: false, error: errorCodeOf(error),
      }),
    );
  }

  async function run(record: EvaluationRecord, body: EvaluationBody, versions: RegistryVersion[], signal: AbortSignal): Promise<void> {
    let writes = Promise.resolve();
    // Writes are serialized so a heartbeat never overwrites newer progress with older.
    const persist = () => {
      const snapshot: EvaluationRecord = { ...record, body: JSON.stringify(body), updatedAt: now().toISOString() };
      writes = writes.then(() => deps.store.putEvaluation(snapshot)).catch((error: unknown) => {
        deps.log.warn({ evaluation: record.id, code: errorCodeOf(error) }, 'could not store evaluation progress');
      });
      return writes;
    };
    const heartbeat = setInterval(() => void persist(), heartbeatMs);
    heartbeat.unref();
    try {
      for (const [index, testCase] of body.cases.entries()) {
        if (signal.aborted) throw new Error('aborted');
        await checkDailyBudget(deps.usage.store, record.userId, deps.dailyTokenBudget);
        body.results[index] = await Promise.all(versions.map((v) => runOne(record.userId, record.agentId, v, v.judge ?? body.judge!, testCase, signal)));
        record.casesDone = index + 1;
        await persist();
      }
      if (signal.aborted) throw new Error('aborted');
      record.status = 'completed';
    } catch (error) {
      record.status = 'failed';
      record.error = signal.aborted
        ? 'Interrupted: the service shut down before the evaluation finished.'
        : isPaiError(error) ? `${error.code}: ${error.message}` : 'Internal error; see the server log.';
      if (!signal.aborted && !isPaiError(error)) deps.log.error({ evaluation: record.id, err: error }, 'evaluation failed');
    } finally {
      clearInterval(heartbeat);
    }
    await persist();
  }

  return {
    async start(userId, agentId, input) {
      const agent = await deps.registry.get(userId, agentId);
      const versions = await resolveVersions(userId, agent.id, input);
      const active = runningPerUser.get(userId) ?? 0;
      if (active >= maxRunning) throw EvaluationErrors.tooMany(maxRunning, { headers: { 'retry-after': '30' } });
      await checkDailyBudget(deps.usage.store, userId, deps.dailyTokenBudget);
      const body: EvaluationBody = {
        cases: input.cases.map((c) => ({ input: c.input, expected: c.expected ?? null })),
        judge: input.judge
          ? { model: input.judge.model ?? null, rubric: input.judge.rubric, minScore: input.judge.minScore, maxAttempts: input.judge.maxAttempts }
          : null,
        results: [],
      };
      const at = now().toISOString();
      const record: EvaluationRecord = {
        id: evaluationId(), userId, agentId: agent.id, versions: versions.map((v) => v.version), status: 'running',
        casesTotal: body.cases.length, casesDone: 0, body: JSON.stringify(body), error: null, createdAt: at, updatedAt: at,
      };
      await deps.store.putEvaluation(record);
      runningPerUser.set(userId, active + 1);
      const controller = new AbortController();
      const done = run({ ...record }, body, versions, controller.signal).finally(() => {
        running.delete(record.id);
        const left = (runningPerUser.get(userId) ?? 1) - 1;
        if (left <= 0) runningPerUser.delete(userId);
        else runningPerUser.set(userId, left);
      });
      running.set(record.id, { controller, done });
      return evaluationDto(record);
    },

    async get(userId, agentId, id) {
      const agent = await deps.registry.get(userId, agentId);
      const record = await deps.store.getEvaluation(userId, agent.id, id);
      if (!record) throw AgentErrors.evaluationNotFound(id);
      // Running, but nobody has touched it for a while: its process is gone (restart, crash).
      if (record.status === 'running' && !running.has(id) && now().getTime() - Date.parse(record.updatedAt) > staleMs) {
        const failed: EvaluationRecord = {
          ...record, status: 'failed', error: 'Interrupted: the service stopped before the evaluation finished.', updatedAt: now().toISOString(),
        };
        await deps.store.putEvaluation(failed);
        return evaluationDto(failed);
      }
      return evaluationDto(record);
    },

    async idle() {
      await Promise.all([...running.values()].map((r) => r.done));
    },

    async close() {
      const all = [...running.values()];
      for (const r of all) r.controller.abort();
      await Promise.all(all.map((r) => r.done));
    },
  };
}
