import type { ServiceName } from '../../packages/contracts/src/routing.js';

/**
 * The deployment stages, in code (CDK best practice: one stage per AWS account and region, all
 * described here and reviewed like any other change). Replace the account ids, regions, certificate
 * ARNs and alarm e-mail with yours before the first deploy (docs/DEPLOY.md, step 1).
 */

export type StageName = 'dev' | 'staging' | 'prod';

export interface ServiceSizing {
  /** Fargate task CPU units (256 = 0.25 vCPU). */
  readonly cpu: 256 | 512 | 1024 | 2048 | 4096;
  readonly memoryMiB: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  /** Target-tracking: average CPU across tasks. */
  readonly cpuTargetPercent: number;
  /** Target-tracking: ALB requests per task per minute. */
  readonly requestsPerTaskPerMinute: number;
}

export interface OpenSearchSizing {
  readonly dataNodes: number;
  readonly dataNodeInstanceType: string;
  /** 0 → no dedicated cluster managers (fine below ~3 data nodes). */
  readonly masterNodes: number;
  readonly masterNodeInstanceType?: string;
  readonly volumeGiB: number;
  /** 1 (single node, dev), 2 or 3 availability zones. */
  readonly zones: 1 | 2 | 3;
}

/** Where the service images come from: built by `cdk deploy` from docker/Dockerfile, or already in ECR. */
export type ImageSource =
  | { readonly kind: 'asset' }
  | { readonly kind: 'ecr'; readonly repositoryName: string; readonly tag: string };

export interface StageConfig {
  readonly name: StageName;
  readonly account: string;
  readonly region: string;
  /** Listed explicitly so synthesis never looks them up (offline, deterministic). */
  readonly availabilityZones: readonly string[];
  readonly natGateways: number;
  /** ACM certificate for the HTTPS listener; required outside dev (without one, dev serves plain HTTP). */
  readonly certificateArn?: string;
  /** Where alarms are sent (SNS e-mail subscription; confirm the e-mail AWS sends). */
  readonly alarmEmail?: string;
  /** CIDRs allowed to reach the load balancer. */
  readonly allowedIngressCidrs: readonly string[];
  readonly services: Readonly<Record<ServiceName, ServiceSizing>>;
  readonly opensearch: OpenSearchSizing;
  readonly models: {
    /**
     * Bedrock chat models the agent may invoke (model ids or inference profile ids); the first is the
     * default agent's LLM_MODEL. Agent versions and judges can only use models listed here (IAM).
     */
    readonly chatModels: readonly [string, ...string[]];
    readonly embeddingsModel: string;
    readonly embeddingsDimensions: 256 | 512 | 1024;
  };
  /**
   * Graceful shutdown budget (PAI_SHUTDOWN_GRACE_MS). The target group's deregistration delay equals it
   * and the container stop timeout exceeds it, so a task leaving the load balancer first stops getting new
   * requests, then has this long to finish, then ends open streams cleanly before SIGKILL.
   */
  readonly shutdownGraceSeconds: number;
  readonly logRetentionDays: 7 | 30 | 90 | 365;
  readonly image: ImageSource;
  readonly logLevel: 'info' | 'debug' | 'warn';
}

const COMMON_MODELS: StageConfig['models'] = {
  chatModels: ['us.anthropic.claude-3-5-haiku-20241022-v1:0', 'us.amazon.nova-lite-v1:0'],
  embeddingsModel: 'amazon.titan-embed-text-v2:0',
  embeddingsDimensions: 1024,
};

export const STAGES: Readonly<Record<StageName, StageConfig>> = {
  dev: {
    name: 'dev',
    account: '111111111111',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    natGateways: 1,
    allowedIngressCidrs: ['0.0.0.0/0'],
    services: {
      agent: { cpu: 512, memoryMiB: 1024, minTasks: 1, maxTasks: 2, cpuTargetPercent: 60, requestsPerTaskPerMinute: 3000 },
      memory: { cpu: 256, memoryMiB: 512, minTasks: 1, maxTasks: 2, cpuTargetPercent: 60, requestsPerTaskPerMinute: 6000 },
      search: { cpu: 256, memoryMiB: 512, minTasks: 1, maxTasks: 2, cpuTargetPercent: 60, requestsPerTaskPerMinute: 3000 },
    },
    opensearch: { dataNodes: 1, dataNodeInstanceType: 't3.medium.search', masterNodes: 0, volumeGiB: 20, zones: 1 },
    models: COMMON_MODELS,
    shutdownGraceSeconds: 30,
    logRetentionDays: 7,
    image: { kind: 'asset' },
    logLevel: 'debug',
  },
  staging: {
    name: 'staging',
    account: '222222222222',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b'],
    natGateways: 2,
    certificateArn: 'arn:aws:acm:us-east-1:222222222222:certificate/00000000-0000-0000-0000-000000000002',
    alarmEmail: 'pai-alerts-staging@example.com',
    allowedIngressCidrs: ['0.0.0.0/0'],
    services: {
      agent: { cpu: 1024, memoryMiB: 2048, minTasks: 2, maxTasks: 4, cpuTargetPercent: 60, requestsPerTaskPerMinute: 3000 },
      memory: { cpu: 512, memoryMiB: 1024, minTasks: 2, maxTasks: 4, cpuTargetPercent: 60, requestsPerTaskPerMinute: 6000 },
      search: { cpu: 512, memoryMiB: 1024, minTasks: 2, maxTasks: 4, cpuTargetPercent: 60, requestsPerTaskPerMinute: 3000 },
    },
    opensearch: { dataNodes: 2, dataNodeInstanceType: 'r6g.large.search', masterNodes: 0, volumeGiB: 50, zones: 2 },
    models: COMMON_MODELS,
    shutdownGraceSeconds: 60,
    logRetentionDays: 30,
    image: { kind: 'asset' },
    logLevel: 'info',
  },
  prod: {
    name: 'prod',
    account: '333333333333',
    region: 'us-east-1',
    availabilityZones: ['us-east-1a', 'us-east-1b', 'us-east-1c'],
    natGateways: 3,
    certificateArn: 'arn:aws:acm:us-east-1:333333333333:certificate/00000000-0000-0000-0000-000000000003',
    alarmEmail: 'pai-alerts@example.com',
    allowedIngressCidrs: ['0.0.0.0/0'],
    services: {
      agent: { cpu: 1024, memoryMiB: 2048, minTasks: 3, maxTasks: 30, cpuTargetPercent: 60, requestsPerTaskPerMinute: 3000 },
      memory: { cpu: 1024, memoryMiB: 2048, minTasks: 3, maxTasks: 20, cpuTargetPercent: 60, requestsPerTaskPerMinute: 6000 },
      search: { cpu: 1024, memoryMiB: 2048, minTasks: 3, maxTasks: 20, cpuTargetPercent: 60, requestsPerTaskPerMinute: 3000 },
    },
    opensearch: {
      dataNodes: 3,
      dataNodeInstanceType: 'r6g.xlarge.search',
      masterNodes: 3,
      masterNodeInstanceType: 'm6g.large.search',
      volumeGiB: 200,
      zones: 3,
    },
    models: COMMON_MODELS,
    shutdownGraceSeconds: 90,
    logRetentionDays: 90,
    image: { kind: 'asset' },
    logLevel: 'info',
  },
};

/** Naming scope of a stage's resources that must be found by name (table prefix, index prefix). */
export function resourcePrefix(stage: StageConfig): string {
  return `pai-${stage.name}-`;
}

/** Fails synthesis early with the setting's name when a stage is configured inconsistently. */
export function validateStage(stage: StageConfig): void {
  const where = `infra/config/environments.ts: stage '${stage.name}'`;
  if (!/^\d{12}$/.test(stage.account)) throw new Error(`${where}: account must be a 12-digit AWS account id`);
  if (stage.availabilityZones.length < 2) throw new Error(`${where}: availabilityZones needs at least 2 zones (the ALB requires two)`);
  if (!stage.availabilityZones.every((az) => az.startsWith(stage.region))) throw new Error(`${where}: availabilityZones must be in ${stage.region}`);
  if (stage.name !== 'dev' && stage.certificateArn === undefined) throw new Error(`${where}: certificateArn is required outside dev (HTTPS only)`);
  if (stage.opensearch.zones > stage.availabilityZones.length) throw new Error(`${where}: opensearch.zones exceeds availabilityZones`);
  if (stage.opensearch.zones > 1 && stage.opensearch.dataNodes % stage.opensearch.zones !== 0) {
    throw new Error(`${where}: opensearch.dataNodes must be a multiple of opensearch.zones`);
  }
  if (stage.shutdownGraceSeconds < 5 || stage.shutdownGraceSeconds + 15 > 120) {
    throw new Error(`${where}: shutdownGraceSeconds must be 5..105 (Fargate stops a container at most 120 s after SIGTERM)`);
  }
  for (const [service, s] of Object.entries(stage.services)) {
    if (s.minTasks < 1 || s.maxTasks < s.minTasks) throw new Error(`${where}: services.${service}: need 1 <= minTasks <= maxTasks`);
  }
}
