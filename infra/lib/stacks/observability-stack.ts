import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { SERVICE_NAMES } from '../../../packages/contracts/src/routing.js';
import type { StageConfig } from '../../config/environments.js';
import { PAI_METRICS } from '../constructs/telemetry.js';
import type { DataStack } from './data-stack.js';
import type { ServicesStack } from './services-stack.js';

export interface ObservabilityStackProps extends StackProps {
  readonly stage: StageConfig;
  readonly data: DataStack;
  readonly services: ServicesStack;
}

/** Alarm thresholds (documented in docs/DEPLOY.md "Verify"). */
export const ALARM_THRESHOLDS = {
  /** 5xx answered (by targets and by the load balancer) as a share of requests, over 5 minutes. */
  error5xxPercent: 1,
  /** Time to response headers (for SSE: the first token) p99, seconds. */
  latencyP99Seconds: 10,
  /** Mean model time to first token, seconds. */
  ttftAverageSeconds: 5,
  openSearchJvmPressurePercent: 80,
  /** Share of each OpenSearch node's volume left free. */
  openSearchFreeStoragePercent: 20,
} as const;

/**
 * One CloudWatch dashboard (request rate, latency p50/p95/p99 and 5xx per service from the load
 * balancer; model time to first token, tokens and cost from the services' own metrics; tasks, DynamoDB
 * and OpenSearch health) and alarms that notify an SNS topic (encrypted with the storage key).
 */
export class ObservabilityStack extends Stack {
  readonly alarmTopic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ObservabilityStackProps) {
    super(scope, id, props);
    const { stage, data, services } = props;
    const period = Duration.minutes(1);
    const alb = services.api.loadBalancer;
    const ns = services.metricsNamespace;

    this.alarmTopic = new sns.Topic(this, 'Alarms', { masterKey: data.keys.storageKey, enforceSSL: true, displayName: `PAI ${stage.name} alarms` });
    if (stage.alarmEmail !== undefined) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(stage.alarmEmail));
    const notify = new actions.SnsAction(this.alarmTopic);
    const alarm = (id: string, props: cloudwatch.AlarmProps) => {
      const created = new cloudwatch.Alarm(this, id, { treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...props });
      created.addAlarmAction(notify);
      created.addOkAction(notify);
      this.alarms.push(created);
      return created;
    };

    // --- Front door: traffic, latency percentiles, errors (per service = per target group).
    const tg = (s: (typeof SERVICE_NAMES)[number]) => services.services[s].targetGroup;
    const latency = (stat: string) => SERVICE_NAMES.map((s) => tg(s).metrics.targetResponseTime({ statistic: stat, period, label: `${s} ${stat}` }));
    const requests = alb.metrics.requestCount({ period: Duration.minutes(5), statistic: 'Sum' });
    const target5xx = alb.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(5), statistic: 'Sum' });
    const elb5xx = alb.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: Duration.minutes(5), statistic: 'Sum' });
    const errorRate = new cloudwatch.MathExpression({
      expression: '100 * (FILL(t5, 0) + FILL(e5, 0)) / MAX([requests, 1])',
      usingMetrics: { t5: target5xx, e5: elb5xx, requests },
      label: '5xx % of requests',
      period: Duration.minutes(5),
    });

    // --- Model: from the services' Prometheus metrics (collector → EMF → namespace PAI/<stage>).
    const agentMetric = (name: string, statistic: string, dims: Record<string, string> = {}) =>
      new cloudwatch.Metric({ namespace: ns, metricName: name, dimensionsMap: { service: 'agent', ...dims }, statistic, period: Duration.minutes(5) });
    const ttftAvg = agentMetric(PAI_METRICS.modelTtft, 'Average');
    const ttftMax = agentMetric(PAI_METRICS.modelTtft, 'Maximum');
    const inputTokens = agentMetric(PAI_METRICS.modelTokens, 'Sum', { kind: 'input' });
    const outputTokens = agentMetric(PAI_METRICS.modelTokens, 'Sum', { kind: 'output' });
    const circuit = agentMetric(PAI_METRICS.modelCircuitState, 'Maximum', { provider: 'bedrock' });
    const cost = agentMetric(PAI_METRICS.modelCost, 'Sum');
    const appErrors = SERVICE_NAMES.map((s) => new cloudwatch.Metric({
      namespace: ns, metricName: PAI_METRICS.errors, dimensionsMap: { service: s }, statistic: 'Sum', period: Duration.minutes(5), label: s,
    }));

    // Read + write throttle events: two metrics per table keeps each alarm within metric math's limit.
    const throttles = (table: dynamodb.Table, index: number) => new cloudwatch.MathExpression({
      expression: `FILL(r${index}, 0) + FILL(w${index}, 0)`,
      usingMetrics: {
        [`r${index}`]: table.metric('ReadThrottleEvents', { statistic: 'Sum', period: Duration.minutes(5) }),
        [`w${index}`]: table.metric('WriteThrottleEvents', { statistic: 'Sum', period: Duration.minutes(5) }),
      },
      label: table.node.id,
      period: Duration.minutes(5),
    });
    const domain = data.search.domain;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({ markdown: `# PAI ${stage.name}\nLatency is time to response headers at the load balancer (for streams: the first token). Model metrics come from the services' /metrics.`, width: 24, height: 2 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Latency p50 (s)', left: latency('p50'), width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Latency p95 (s)', left: latency('p95'), width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Latency p99 (s)', left: latency('p99'), width: 8 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Requests / 5 min', left: [requests, ...SERVICE_NAMES.map((s) => tg(s).metrics.requestCount({ period: Duration.minutes(5), label: s }))], width: 8 }),
      new cloudwatch.GraphWidget({ title: '5xx', left: [target5xx, elb5xx], right: [errorRate], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'PAI errors by service (pai_errors_total)', left: appErrors, width: 8 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Model time to first token (s)', left: [ttftAvg, ttftMax], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Tokens / 5 min', left: [inputTokens, outputTokens], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Model cost (USD / 5 min)', left: [cost], right: [circuit], rightYAxis: { label: 'circuit (2 = open)', min: 0, max: 2 }, width: 8 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Tasks CPU %', left: SERVICE_NAMES.map((s) => services.services[s].service.metricCpuUtilization({ label: s })), width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Tasks memory %', left: SERVICE_NAMES.map((s) => services.services[s].service.metricMemoryUtilization({ label: s })), width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Healthy tasks', left: SERVICE_NAMES.map((s) => tg(s).metrics.healthyHostCount({ label: s })), width: 8 }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'DynamoDB throttled requests', left: [...data.tables.tables.values()].map(throttles), width: 8 }),
      new cloudwatch.GraphWidget({ title: 'OpenSearch JVM pressure / CPU', left: [domain.metricJVMMemoryPressure(), domain.metricCPUUtilization()], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'OpenSearch search latency p99 (ms)', left: [domain.metricSearchLatency()], right: [domain.metricFreeStorageSpace()], width: 8 }),
    );

    new CfnOutput(this, 'DashboardUrl', { value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${this.dashboard.dashboardName}` });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn, description: 'Subscribe more endpoints (Slack, PagerDuty) here' });

    alarm('Error5xxRate', {
      metric: errorRate,
      threshold: ALARM_THRESHOLDS.error5xxPercent,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription: `More than ${ALARM_THRESHOLDS.error5xxPercent}% of requests answered 5xx for 10 minutes`,
    });
    for (const s of SERVICE_NAMES) {
      alarm(`${s}LatencyP99`, {
        metric: tg(s).metrics.targetResponseTime({ statistic: 'p99', period: Duration.minutes(5) }),
        threshold: ALARM_THRESHOLDS.latencyP99Seconds,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `${s}: p99 time to response headers above ${ALARM_THRESHOLDS.latencyP99Seconds} s for 15 minutes`,
      });
      alarm(`${s}NoHealthyTasks`, {
        metric: tg(s).metrics.healthyHostCount({ statistic: 'Minimum', period: period }),
        threshold: 1,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        alarmDescription: `${s}: no healthy task behind the load balancer`,
      });
    }
    alarm('ModelTtft', {
      metric: ttftAvg,
      threshold: ALARM_THRESHOLDS.ttftAverageSeconds,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription: `Mean model time to first token above ${ALARM_THRESHOLDS.ttftAverageSeconds} s for 15 minutes`,
    });
    alarm('ModelCircuitOpen', {
      metric: circuit,
      threshold: 2,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription: 'The Bedrock circuit breaker is open: chat answers 503 until it closes',
    });
    alarm('OpenSearchRed', {
      metric: domain.metricClusterStatusRed({ period }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription: 'OpenSearch cluster status red (a primary shard is unassigned)',
    });
    alarm('OpenSearchWritesBlocked', {
      metric: domain.metricClusterIndexWritesBlocked({ period }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      alarmDescription: 'OpenSearch is refusing writes',
    });
    alarm('OpenSearchJvmPressure', {
      metric: domain.metricJVMMemoryPressure({ period: Duration.minutes(5) }),
      threshold: ALARM_THRESHOLDS.openSearchJvmPressurePercent,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription: 'OpenSearch JVM memory pressure high (k-NN graphs and heap compete for memory)',
    });
    alarm('OpenSearchFreeStorage', {
      metric: domain.metricFreeStorageSpace({ period: Duration.minutes(5) }),
      // FreeStorageSpace is in MiB per node.
      threshold: (stage.opensearch.volumeGiB * 1024 * ALARM_THRESHOLDS.openSearchFreeStoragePercent) / 100,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      alarmDescription: `An OpenSearch node has less than ${ALARM_THRESHOLDS.openSearchFreeStoragePercent}% of its volume free`,
    });
    for (const [index, table] of [...data.tables.tables.values()].entries()) {
      alarm(`${table.node.id}Throttled`, {
        metric: throttles(table, index),
        threshold: 0,
        evaluationPeriods: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `DynamoDB ${table.node.id}: throttled requests (hot partition or account limit)`,
      });
    }
  }
}
