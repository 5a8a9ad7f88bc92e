import { UsageQuerySchema, UsageReportSchema, errorResponses } from '@pai/contracts';
import { userIdOf, type RoutePlugin } from '@pai/service-kit';
import type { UsageStore } from '@pai/store';
import { summarizeUsage } from '../../domain/usage.js';

export const usageRoutes: RoutePlugin<{ store: UsageStore }> = async (app, { store }) => {
  app.get('/v1/usage', {
    schema: {
      tags: ['usage'],
      security: [{ bearer: [] }],
      summary: "The caller's token usage and cost, grouped by model, agent or day",
      description: 'Days are UTC. The range spans at most 366 days. Cost uses the configured prices (PAI_MODEL_PRICES over the defaults).',
      querystring: UsageQuerySchema,
      response: { 200: UsageReportSchema, ...errorResponses(400, 401, 403) },
    },
  }, async (request) => {
    const report = await summarizeUsage(store, userIdOf(request), { from: request.query.from, to: request.query.to, groupBy: request.query.group_by });
    const dto = (g: { requests: number; inputTokens: number; outputTokens: number; costUsd: number; estimatedRequests: number }) => ({
      requests: g.requests, input_tokens: g.inputTokens, output_tokens: g.outputTokens, cost_usd: g.costUsd, estimated_requests: g.estimatedRequests,
    });
    return {
      from: report.fromDay,
      to: report.toDay,
      group_by: request.query.group_by,
      items: report.groups.map((g) => ({ key: g.key, ...dto(g) })),
      total: dto(report.total),
    };
  });
};
