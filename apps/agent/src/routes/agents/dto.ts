import type { AgentDetailDto, AgentDto, AgentMetricsDto, AgentVersionDto, VersionMetricsDto } from '@pai/contracts';
import type { VersionMetrics } from '../../domain/agent-metrics.js';
import type { RegistryAgent, RegistryVersion } from '../../domain/registry.js';

export function agentDto(agent: RegistryAgent): AgentDto {
  return {
    id: agent.id, name: agent.name, description: agent.description, routing: agent.routing, latest_version: agent.latestVersion,
    built_in: agent.builtIn, created_at: agent.createdAt, updated_at: agent.updatedAt,
  };
}

export function versionDto(version: RegistryVersion): AgentVersionDto {
  return {
    agent_id: version.agentId,
    version: version.version,
    system_prompt: version.systemPrompt,
    model: version.model,
    temperature: version.temperature,
    max_tokens: version.maxTokens,
    judge: version.judge === null
      ? null
      : { model: version.judge.model, rubric: version.judge.rubric, min_score: version.judge.minScore, max_attempts: version.judge.maxAttempts },
    built_in: version.builtIn,
    created_at: version.createdAt,
  };
}

export function agentDetailDto(agent: RegistryAgent, versions: RegistryVersion[]): AgentDetailDto {
  const latest = versions.at(-1);
  return {
    ...agentDto(agent),
    versions: versions.map((v) => ({ version: v.version, model: v.model, has_judge: v.judge !== null, built_in: v.builtIn, created_at: v.createdAt })),
    latest: latest ? versionDto(latest) : null,
  };
}

function versionMetricsDto(m: VersionMetrics): VersionMetricsDto {
  return {
    version: m.version,
    requests: m.requests,
    errors: m.errors,
    error_codes: m.errorCodes,
    latency_ms: m.latencyMs,
    ttft_ms: m.ttftMs,
    input_tokens: m.inputTokens,
    output_tokens: m.outputTokens,
    cost_usd: m.costUsd,
    judge: {
      judged: m.judge.judged, passed: m.judge.passed, pass_rate: m.judge.passRate, mean_score: m.judge.meanScore,
      unjudged: m.judge.unjudged, retried: m.judge.retried, attempts: m.judge.attempts,
    },
  };
}

export function metricsDto(report: { agentId: string; from: string; to: string; versions: VersionMetrics[]; total: VersionMetrics }): AgentMetricsDto {
  return {
    agent_id: report.agentId, from: report.from, to: report.to,
    versions: report.versions.map(versionMetricsDto), total: versionMetricsDto(report.total),
  };
}
