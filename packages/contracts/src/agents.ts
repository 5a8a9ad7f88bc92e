import { z } from 'zod';
import { timestamp } from './common.js';
import { AGENT_ID, MESSAGE_MAX_CHARS } from './conversations.js';

/** Bounds of the registry's inputs (evaluations are bounded so one request cannot run away with the model). */
export const AGENT_LIMITS = {
  judgeMaxAttempts: 5,
  evaluationMaxCases: 100,
  evaluationMinVersions: 2,
  evaluationMaxVersions: 5,
  evaluationOutputChars: 2_000,
} as const;

const modelId = z.string().trim().min(1).max(200);
const rubric = z.string().trim().min(1).max(8_000).describe('What a good answer looks like; the judge scores drafts against it');
const minScore = z.number().min(0).max(10).describe('0..10: drafts scoring below it are retried with the judge\'s feedback');

export const JudgeSettingsSchema = z
  .object({
    model: modelId.optional().describe("The judge's model; the version's own model when omitted"),
    rubric,
    min_score: minScore,
    max_attempts: z.number().int().min(1).max(AGENT_LIMITS.judgeMaxAttempts)
      .describe(`Drafts generated at most, the first included (1..${AGENT_LIMITS.judgeMaxAttempts})`),
  })
  .strict();

export const CreateAgentBodySchema = z
  .object({
    id: AGENT_ID.describe('A slug, unique per user: lowercase letters, digits and dashes, 1..64 characters'),
    name: z.string().trim().min(1).max(200).describe('Display name'),
    description: z.string().trim().max(2_000).optional().describe('What the agent is for'),
  })
  .strict();

export const CreateAgentVersionBodySchema = z
  .object({
    system_prompt: z.string().min(1).max(MESSAGE_MAX_CHARS).describe('What the model is told before every conversation'),
    model: modelId.describe('The model id the version calls (e.g. an Ollama model or a Bedrock model / inference profile id)'),
    temperature: z.number().min(0).max(2).optional().describe('Sampling temperature 0..2; the provider default when omitted'),
    max_tokens: z.number().int().min(1).max(200_000).optional()
      .describe('Answer tokens at most (capped by LLM_MAX_OUTPUT_TOKENS)'),
    judge: JudgeSettingsSchema.optional().describe('Score every draft with a second model call and retry weak drafts'),
  })
  .strict();

export const RoutingBodySchema = z
  .object({
    weights: z.record(z.string().max(12), z.number())
      .describe('Version number → percent of traffic: whole numbers 0..100 naming existing versions and summing to 100'),
  })
  .strict();

export const JudgeSettingsDtoSchema = z.object({
  model: z.string().nullable().describe("The judge's model; null = the version's own model"),
  rubric: z.string(),
  min_score: z.number(),
  max_attempts: z.number().int(),
});

export const AgentVersionSchema = z
  .object({
    agent_id: z.string(),
    version: z.number().int().describe('1, 2, 3… in creation order'),
    system_prompt: z.string(),
    model: z.string(),
    temperature: z.number().nullable(),
    max_tokens: z.number().int().nullable(),
    judge: JudgeSettingsDtoSchema.nullable().describe('null when the version has no judge'),
    built_in: z.boolean().describe('True for version 1 of "default", configured by the server (PAI_SYSTEM_PROMPT, LLM_MODEL)'),
    created_at: timestamp.nullable().describe('null for the built-in version'),
  })
  .meta({ id: 'AgentVersion' });

export const AgentSchema = z
  .object({
    id: z.string().describe('Agent id (a slug)'),
    name: z.string(),
    description: z.string().nullable(),
    routing: z.record(z.string(), z.number().int()).describe('Version number → percent of new and continuing conversations'),
    latest_version: z.number().int().describe('The highest version number (0 before the first version)'),
    built_in: z.boolean().describe('True for "default", which every user has without creating it'),
    created_at: timestamp.nullable().describe('null while "default" is still the untouched built-in'),
    updated_at: timestamp.nullable(),
  })
  .meta({ id: 'Agent' });

export const AgentDetailSchema = AgentSchema.extend({
  versions: z.array(z.object({
    version: z.number().int(),
    model: z.string(),
    has_judge: z.boolean(),
    built_in: z.boolean(),
    created_at: timestamp.nullable(),
  })).describe('Every version, oldest first (use GET …/versions/{version} for the full settings)'),
  latest: AgentVersionSchema.nullable().describe('The newest version in full; null before the first'),
}).meta({ id: 'AgentDetail' });

export const AgentIdParamSchema = z.object({
  id: z.string().min(1).max(100).describe('Agent id'),
});

export const AgentVersionParamSchema = AgentIdParamSchema.extend({
  version: z.coerce.number().int().min(1).max(1_000_000).describe('Version number'),
});

export const EvaluationParamSchema = AgentIdParamSchema.extend({
  evaluation_id: z.string().min(1).max(100).describe('Evaluation id (eval_…)'),
});

export const CreateEvaluationBodySchema = z
  .object({
    versions: z.array(z.number().int().min(1)).min(AGENT_LIMITS.evaluationMinVersions).max(AGENT_LIMITS.evaluationMaxVersions)
      .describe(`${AGENT_LIMITS.evaluationMinVersions}..${AGENT_LIMITS.evaluationMaxVersions} distinct version numbers to compare`),
    cases: z.array(z.object({
      input: z.string().min(1).max(MESSAGE_MAX_CHARS).describe('A user message to answer'),
      expected: z.string().min(1).max(MESSAGE_MAX_CHARS).optional().describe('A reference answer the judge is shown'),
    }).strict()).min(1).max(AGENT_LIMITS.evaluationMaxCases).describe(`1..${AGENT_LIMITS.evaluationMaxCases} test cases`),
    judge: JudgeSettingsSchema.extend({
      max_attempts: z.number().int().min(1).max(AGENT_LIMITS.judgeMaxAttempts).default(1)
        .describe('Drafts per case for versions without their own judge (default 1)'),
    }).optional().describe('The judge for versions that have none (required when one of them has none)'),
  })
  .strict();

const score = z.number().nullable().describe('0..10; null when the judge failed or the case errored');

export const EvaluationResultSchema = z.object({
  version: z.number().int(),
  score,
  verdict: z.enum(['pass', 'fail', 'unjudged', 'error']),
  attempts: z.number().int().describe('Drafts generated'),
  output: z.string().nullable().describe(`The returned draft, cut to ${AGENT_LIMITS.evaluationOutputChars} characters; null on error`),
  output_truncated: z.boolean(),
  input_tokens: z.number().int().describe('Generator and judge calls together'),
  output_tokens: z.number().int(),
  cost_usd: z.number(),
  latency_ms: z.number(),
  error: z.string().nullable().describe('The error code when the case failed for this version'),
});

export const EvaluationSummarySchema = z.object({
  version: z.number().int(),
  cases: z.number().int().describe('Cases finished for this version'),
  judged: z.number().int().describe('Cases with a score'),
  passed: z.number().int(),
  errors: z.number().int(),
  mean_score: z.number().nullable().describe('Mean over judged cases; null when none was judged'),
  pass_rate: z.number().nullable().describe('passed / judged; null when none was judged'),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cost_usd: z.number(),
  mean_latency_ms: z.number().nullable(),
});

export const EvaluationSchema = z
  .object({
    id: z.string(),
    agent_id: z.string(),
    versions: z.array(z.number().int()),
    status: z.enum(['running', 'completed', 'failed']),
    progress: z.object({
      cases_done: z.number().int().describe('Cases run through every version'),
      cases_total: z.number().int(),
    }),
    summary: z.array(EvaluationSummarySchema).describe('Per version, in the order requested: the scores side by side'),
    cases: z.array(z.object({
      index: z.number().int(),
      input: z.string(),
      expected: z.string().nullable(),
      results: z.array(EvaluationResultSchema).describe('One per version, in the order requested (empty until the case ran)'),
    })),
    error: z.string().nullable().describe('Why the evaluation failed'),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Evaluation' });

export const AgentMetricsQuerySchema = z.object({
  from: z.string().max(40).optional().describe('Start of the window (ISO 8601 instant, inclusive); default 24 h before `to`'),
  to: z.string().max(40).optional().describe('End of the window (ISO 8601 instant, exclusive); default now'),
});

const percentiles = z.object({
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
}).describe('Nearest-rank percentiles in milliseconds; null with no data');

export const VersionMetricsSchema = z.object({
  version: z.number().int().nullable().describe('null for the totals over every version'),
  requests: z.number().int().describe('Chat turns served (ok or not)'),
  errors: z.number().int().describe('Turns that ended in an error (client disconnects included)'),
  error_codes: z.record(z.string(), z.number().int()).describe('Errors by code'),
  latency_ms: percentiles,
  ttft_ms: percentiles.describe('Time to the first streamed token, or to the whole answer when not streaming'),
  input_tokens: z.number().int().describe('Generator and judge calls together'),
  output_tokens: z.number().int(),
  cost_usd: z.number(),
  judge: z.object({
    judged: z.number().int().describe('Turns whose returned draft has a score'),
    passed: z.number().int(),
    pass_rate: z.number().nullable().describe('passed / judged'),
    mean_score: z.number().nullable(),
    unjudged: z.number().int().describe('Turns whose judge failed (the draft was returned unjudged)'),
    retried: z.number().int().describe('Turns that needed more than one draft'),
    attempts: z.number().int().describe('Drafts generated in all'),
  }),
});

export const AgentMetricsSchema = z
  .object({
    agent_id: z.string(),
    from: timestamp,
    to: timestamp,
    versions: z.array(VersionMetricsSchema).describe('Versions that served turns in the window, by version'),
    total: VersionMetricsSchema,
  })
  .meta({ id: 'AgentMetrics' });

export type CreateAgentBodyDto = z.infer<typeof CreateAgentBodySchema>;
export type CreateAgentVersionBodyDto = z.infer<typeof CreateAgentVersionBodySchema>;
export type CreateEvaluationBodyDto = z.infer<typeof CreateEvaluationBodySchema>;
export type AgentDto = z.infer<typeof AgentSchema>;
export type AgentDetailDto = z.infer<typeof AgentDetailSchema>;
export type AgentVersionDto = z.infer<typeof AgentVersionSchema>;
export type EvaluationDto = z.infer<typeof EvaluationSchema>;
export type EvaluationResultDto = z.infer<typeof EvaluationResultSchema>;
export type VersionMetricsDto = z.infer<typeof VersionMetricsSchema>;
export type AgentMetricsDto = z.infer<typeof AgentMetricsSchema>;
