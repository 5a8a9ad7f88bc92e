import {
  AgentDetailSchema, AgentIdParamSchema, AgentMetricsQuerySchema, AgentMetricsSchema, AgentSchema, AgentVersionParamSchema, AgentVersionSchema,
  CreateAgentBodySchema, CreateAgentVersionBodySchema, CreateEvaluationBodySchema, EvaluationParamSchema, EvaluationSchema, ListQuerySchema,
  RoutingBodySchema, errorResponses, pageOf,
} from '@pai/contracts';
import type { AgentStore } from '@pai/store';
import { userIdOf, type RoutePlugin } from '@pai/service-kit';
import { agentMetrics } from '../../domain/agent-metrics.js';
import type { EvaluationRunner } from '../../domain/evaluation.js';
import type { AgentRegistry } from '../../domain/registry.js';
import { agentDetailDto, agentDto, metricsDto, versionDto } from './dto.js';

export interface AgentRouteOptions {
  registry: AgentRegistry;
  evaluations: EvaluationRunner;
  runs: Pick<AgentStore, 'listRuns'>;
}

const tags = ['agents'];
const security = [{ bearer: [] }];

const VERSION_DESCRIPTION = `
Versions are immutable and numbered 1, 2, 3… The first version of a new agent takes 100 % of the traffic; later
versions take none until \`PUT /v1/agents/{id}/routing\` gives them a share. On \`default\`, version 1 is the server's
built-in agent, so the first version you add is 2.

With a \`judge\`, every answer is a loop: the draft goes to a second model call (\`judge.model\`, or the version's
model) with the rubric, which answers a score 0..10 and feedback; a draft passes when its score is at least
\`min_score\` (the judge's own verdict word is advisory). Below it the generator drafts again
with that feedback, up to \`max_attempts\` drafts, and the best-scoring draft is returned. The chat answer's
\`judge\` field reports \`{score, verdict: pass|fail|unjudged, attempts}\` and its \`usage\` counts every draft and
judge call. A judge that fails, times out or answers anything but the expected JSON never fails the request: the
current draft is returned with \`verdict: "unjudged"\`. When streaming, the drafts are generated and judged first
(only \`: ping\` comments meanwhile), then the chosen draft is streamed as \`delta\` events and \`done\` carries the
verdict. Every attempt's score, tokens and latency are recorded for the metrics; drafts and feedback are not.`;

const ROUTING_DESCRIPTION = `
Weights are whole percents 0..100 keyed by version number; they must name existing versions and sum to 100
(else 400 PAI_AGENT_INVALID_ROUTING with details). Assignment is sticky per conversation: a conversation's
bucket is a hash of the agent id and conversation id, so it keeps its version across requests, restarts and
instances for as long as the weights stay the same. Rolling back is setting new weights (e.g. \`{"1": 100}\`).`;

const EVALUATION_DESCRIPTION = `
Runs every case through each version (its system prompt and model, no memories or history) and scores the
answers with the version's judge (its full judge loop), or with \`judge\` from the body for versions without one.
Answers 202 at once with the evaluation running in the background; poll GET …/evaluations/{evaluation_id} for
progress and the scores side by side (mean score and pass rate per version, and per case). At most
100 cases × 5 versions per evaluation and 2 running evaluations per user (per service instance; 429 beyond).
Model calls count towards usage and the daily token budget. The cases (inputs and expected answers) and the
first 2,000 characters of each output are stored unencrypted with the evaluation: use test prompts, not
personal data.`;

export const agentRoutes: RoutePlugin<AgentRouteOptions> = async (app, { registry, evaluations, runs }) => {
  app.post('/v1/agents', {
    schema: {
      tags, security, summary: 'Create an agent (add a version to make it answer)',
      body: CreateAgentBodySchema,
      response: { 201: AgentSchema, ...errorResponses(400, 401, 403, 409, 413) },
    },
  }, async (request, reply) => {
    const { id, name, description } = request.body;
    const agent = await registry.create(userIdOf(request), { id, name, description });
    return reply.code(201).send(agentDto(agent));
  });

  app.get('/v1/agents', {
    schema: {
      tags, security, summary: 'List agents: "default" first, then yours by id',
      querystring: ListQuerySchema,
      response: { 200: pageOf(AgentSchema), ...errorResponses(400, 401, 403) },
    },
  }, async (request) => {
    const page = await registry.list(userIdOf(request), { limit: request.query.limit, cursor: request.query.cursor });
    return { items: page.items.map(agentDto), next_cursor: page.nextCursor };
  });

  app.get('/v1/agents/:id', {
    schema: {
      tags, security, summary: 'Get an agent with its routing and versions',
      params: AgentIdParamSchema,
      response: { 200: AgentDetailSchema, ...errorResponses(401, 403, 404) },
    },
  }, async (request) => {
    const { agent, versions } = await registry.detail(userIdOf(request), request.params.id);
    return agentDetailDto(agent, versions);
  });

  app.post('/v1/agents/:id/versions', {
    schema: {
      tags, security, summary: 'Add an immutable version (prompt, model, optional judge)',
      description: VERSION_DESCRIPTION,
      params: AgentIdParamSchema,
      body: CreateAgentVersionBodySchema,
      response: { 201: AgentVersionSchema, ...errorResponses(400, 401, 403, 404, 413) },
    },
  }, async (request, reply) => {
    const body = request.body;
    const version = await registry.addVersion(userIdOf(request), request.params.id, {
      systemPrompt: body.system_prompt, model: body.model, temperature: body.temperature, maxTokens: body.max_tokens,
      judge: body.judge && { model: body.judge.model, rubric: body.judge.rubric, minScore: body.judge.min_score, maxAttempts: body.judge.max_attempts },
    });
    return reply.code(201).send(versionDto(version));
  });

  app.get('/v1/agents/:id/versions/:version', {
    schema: {
      tags, security, summary: 'Get one version in full',
      params: AgentVersionParamSchema,
      response: { 200: AgentVersionSchema, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (request) => versionDto(await registry.version(userIdOf(request), request.params.id, request.params.version)));

  app.put('/v1/agents/:id/routing', {
    schema: {
      tags, security, summary: 'Split traffic between versions (A/B, rollout, rollback)',
      description: ROUTING_DESCRIPTION,
      params: AgentIdParamSchema,
      body: RoutingBodySchema,
      response: { 200: AgentSchema, ...errorResponses(400, 401, 403, 404, 413) },
    },
  }, async (request) => agentDto(await registry.setRouting(userIdOf(request), request.params.id, request.body.weights)));

  app.post('/v1/agents/:id/evaluations', {
    schema: {
      tags, security, summary: 'Evaluate versions side by side on test cases, with the judge',
      description: EVALUATION_DESCRIPTION,
      params: AgentIdParamSchema,
      body: CreateEvaluationBodySchema,
      response: { 202: EvaluationSchema, ...errorResponses(400, 401, 403, 404, 413, 429) },
    },
  }, async (request, reply) => {
    const body = request.body;
    const evaluation = await evaluations.start(userIdOf(request), request.params.id, {
      versions: body.versions,
      cases: body.cases,
      judge: body.judge && { model: body.judge.model, rubric: body.judge.rubric, minScore: body.judge.min_score, maxAttempts: body.judge.max_attempts },
    });
    return reply.code(202).send(evaluation);
  });

  app.get('/v1/agents/:id/evaluations/:evaluation_id', {
    schema: {
      tags, security, summary: "An evaluation's progress and results",
      params: EvaluationParamSchema,
      response: { 200: EvaluationSchema, ...errorResponses(401, 403, 404) },
    },
  }, async (request) => evaluations.get(userIdOf(request), request.params.id, request.params.evaluation_id));

  app.get('/v1/agents/:id/metrics', {
    schema: {
      tags, security, summary: 'Per-version metrics: requests, errors, latency and TTFT percentiles, tokens, cost, judge',
      description: 'Over the window [from, to) (default the last 24 h, at most 31 days). Percentiles are nearest-rank over ' +
        'the turns in the window; pass rate = passed / judged. The same series are exported to Prometheus (GET /metrics) ' +
        'as pai_agent_* labelled by agent and version.',
      params: AgentIdParamSchema,
      querystring: AgentMetricsQuerySchema,
      response: { 200: AgentMetricsSchema, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (request) => metricsDto(await agentMetrics({ agents: registry, runs }, userIdOf(request), request.params.id, request.query)));
};
