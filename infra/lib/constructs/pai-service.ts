import { Duration, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HEALTH_CHECK_PATH, SERVICE_PORT, type ServiceName } from '../../../packages/contracts/src/routing.js';
import type { ImageSource, ServiceSizing } from '../../config/environments.js';
import { serviceImage } from './service-image.js';
import { COLLECTOR_IMAGE, collectorConfig } from './telemetry.js';

export interface PaiServiceProps {
  readonly service: ServiceName;
  readonly cluster: ecs.ICluster;
  readonly vpc: ec2.IVpc;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly sizing: ServiceSizing;
  readonly image: ImageSource;
  readonly taskRole: iam.IRole;
  readonly environment: Record<string, string>;
  readonly secrets: Record<string, ecs.Secret>;
  /** Publish this service to the others under http://<service>:8080 (Service Connect). */
  readonly publishToServiceConnect: boolean;
  readonly shutdownGraceSeconds: number;
  readonly logRetentionDays: logs.RetentionDays;
  readonly metrics: { namespace: string; logGroup: logs.ILogGroup };
}

/** Fetches /healthz from inside the container (the image has node, no curl). */
export const CONTAINER_HEALTH_CHECK_COMMAND = [
  'CMD',
  'node',
  '-e',
  `fetch('http://127.0.0.1:${SERVICE_PORT}${HEALTH_CHECK_PATH}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
];

/**
 * One PAI service on Fargate: the container built from docker/Dockerfile, a metrics collector sidecar,
 * a target group health-checked on /healthz, and target-tracking autoscaling on CPU and on requests per
 * task. Shutdown is aligned end to end: the target group drains for PAI_SHUTDOWN_GRACE_MS (no new
 * requests, open streams continue), then ECS sends SIGTERM and the process ends what is left within the
 * same grace; the stop timeout leaves 15 s more before SIGKILL.
 */
export class PaiService extends Construct {
  readonly service: ecs.FargateService;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly logGroup: logs.LogGroup;
  private readonly sizing: ServiceSizing;

  constructor(scope: Construct, id: string, props: PaiServiceProps) {
    super(scope, id);
    const { service, sizing } = props;
    this.sizing = sizing;

    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetentionDays });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: sizing.cpu,
      memoryLimitMiB: sizing.memoryMiB,
      taskRole: props.taskRole,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      volumes: [{ name: 'tmp' }],
    });
    const app = this.taskDefinition.addContainer('app', {
      containerName: service,
      image: serviceImage(this, service, props.image),
      essential: true,
      environment: {
        ...props.environment,
        PORT: String(SERVICE_PORT),
        HOST: '0.0.0.0',
        PAI_SHUTDOWN_GRACE_MS: String(props.shutdownGraceSeconds * 1000),
      },
      secrets: props.secrets,
      portMappings: [{ name: 'http', containerPort: SERVICE_PORT, appProtocol: ecs.AppProtocol.http }],
      healthCheck: {
        command: CONTAINER_HEALTH_CHECK_COMMAND,
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      stopTimeout: Duration.seconds(props.shutdownGraceSeconds + 15),
      readonlyRootFilesystem: true,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: service }),
    });
    app.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });

    this.taskDefinition.addContainer('metrics', {
      containerName: 'metrics-collector',
      image: ecs.ContainerImage.fromRegistry(COLLECTOR_IMAGE),
      essential: false,
      memoryReservationMiB: 64,
      environment: {
        AOT_CONFIG_CONTENT: collectorConfig({ service, namespace: props.metrics.namespace, logGroupName: props.metrics.logGroup.logGroupName, region: Stack.of(this).region }),
      },
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'metrics-collector' }),
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: sizing.minTasks,
      securityGroups: [props.securityGroup],
      vpcSubnets: { subnetGroupName: 'app' },
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: Duration.seconds(60),
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      serviceConnectConfiguration: props.publishToServiceConnect
        ? {
            services: [{
              portMappingName: 'http',
              dnsName: service,
              port: SERVICE_PORT,
              // Internal calls are short request/response exchanges (never streams).
              perRequestTimeout: Duration.seconds(120),
              idleTimeout: Duration.seconds(300),
            }],
          }
        : {},
    });

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'TargetGroup', {
      vpc: props.vpc,
      port: SERVICE_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      // Long SSE streams pile up on one task with round robin; send new requests where fewest are open.
      loadBalancingAlgorithmType: elbv2.TargetGroupLoadBalancingAlgorithmType.LEAST_OUTSTANDING_REQUESTS,
      deregistrationDelay: Duration.seconds(props.shutdownGraceSeconds),
      healthCheck: {
        path: HEALTH_CHECK_PATH,
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
    });
    this.service.attachToApplicationTargetGroup(this.targetGroup);
  }

  /** Target tracking on CPU and on ALB requests per task; call once the target group is routed to. */
  enableAutoscaling(): void {
    const scaling = this.service.autoScaleTaskCount({ minCapacity: this.sizing.minTasks, maxCapacity: this.sizing.maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: this.sizing.cpuTargetPercent,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(300),
    });
    scaling.scaleOnRequestCount('Requests', {
      requestsPerTarget: this.sizing.requestsPerTaskPerMinute,
      targetGroup: this.targetGroup,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(300),
    });
  }
}
