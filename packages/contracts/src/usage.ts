import { z } from 'zod';

export const UsageQuerySchema = z.object({
  from: z.string().max(40).optional().describe('First day (YYYY-MM-DD or ISO timestamp, UTC); default 29 days before `to`'),
  to: z.string().max(40).optional().describe('Last day, inclusive; default today (UTC)'),
  group_by: z.enum(['model', 'agent', 'day']).default('day').describe('How to group the totals'),
});

const totals = {
  requests: z.number().int().describe('Model calls'),
  input_tokens: z.number().int().describe('Prompt tokens'),
  output_tokens: z.number().int().describe('Answer tokens'),
  cost_usd: z.number().describe('Cost at the configured prices (USD)'),
  estimated_requests: z.number().int().describe('Calls whose usage the provider did not report (PAI estimated it)'),
};

export const UsageReportSchema = z
  .object({
    from: z.string().describe('First day included (YYYY-MM-DD)'),
    to: z.string().describe('Last day included (YYYY-MM-DD)'),
    group_by: z.enum(['model', 'agent', 'day']),
    items: z.array(z.object({ key: z.string().describe('The model id, agent id or day'), ...totals })),
    total: z.object(totals),
  })
  .meta({ id: 'UsageReport' });

export type UsageReportDto = z.infer<typeof UsageReportSchema>;
