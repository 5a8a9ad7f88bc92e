import { SERVICE_PORT } from '../../../packages/contracts/src/routing.js';

/**
 * The services' Prometheus metrics (GET /metrics, prom-client, packages/service-kit) reach CloudWatch
 * through an AWS Distro for OpenTelemetry collector running beside each service: it scrapes
 * localhost:/metrics every 30 s and writes CloudWatch embedded-metric-format logs, which become metrics
 * in the namespace `PAI/<stage>` with the dimensions declared here. Histograms arrive as statistic sets
 * (SampleCount, Sum, Min, Max): averages and maxima are exact; percentiles of HTTP latency come from the
 * load balancer's TargetResponseTime instead. Names and labels are those of packages/service-kit
 * (HTTP, errors) and apps/agent/src/plugins/model.ts (model metrics).
 */
export const PAI_METRICS = {
  httpDuration: 'pai_http_request_duration_seconds',
  errors: 'pai_errors_total',
  modelTtft: 'pai_model_ttft_seconds',
  modelDuration: 'pai_model_duration_seconds',
  modelTokens: 'pai_model_tokens_total',
  modelCost: 'pai_model_cost_usd_total',
  /** 0 closed, 1 half-open, 2 open (per provider). */
  modelCircuitState: 'pai_model_circuit_state',
} as const;

export const COLLECTOR_IMAGE = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3';

export function metricsNamespace(stageName: string): string {
  return `PAI/${stageName}`;
}

/** The collector's configuration (JSON is YAML), passed in AOT_CONFIG_CONTENT. */
export function collectorConfig(options: { service: string; namespace: string; logGroupName: string; region: string }): string {
  const m = PAI_METRICS;
  const exact = (...names: string[]) => names.map((n) => `^${n}$`);
  return JSON.stringify({
    receivers: {
      prometheus: {
        config: {
          scrape_configs: [{
            job_name: `pai-${options.service}`,
            scrape_interval: '30s',
            metrics_path: '/metrics',
            static_configs: [{ targets: [`127.0.0.1:${SERVICE_PORT}`] }],
          }],
        },
      },
    },
    processors: { batch: { timeout: '30s' } },
    exporters: {
      awsemf: {
        namespace: options.namespace,
        region: options.region,
        log_group_name: options.logGroupName,
        log_stream_name: options.service,
        dimension_rollup_option: 'NoDimensionRollup',
        metric_declarations: [
          { dimensions: [['service']], metric_name_selectors: exact(m.httpDuration, m.errors) },
          { dimensions: [['service'], ['service', 'model']], metric_name_selectors: exact(m.modelTtft, m.modelDuration, m.modelCost) },
          { dimensions: [['service', 'kind'], ['service', 'model', 'kind']], metric_name_selectors: exact(m.modelTokens) },
          { dimensions: [['service', 'provider']], metric_name_selectors: exact(m.modelCircuitState) },
        ],
      },
    },
    service: { pipelines: { metrics: { receivers: ['prometheus'], processors: ['batch'], exporters: ['awsemf'] } } },
  });
}
