import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';
import { SERVICE_NAMES, SERVICE_PORT, type ServiceName } from '../../../packages/contracts/src/routing.js';
import { resourcePrefix, type StageConfig } from '../../config/environments.js';
import { ApiLoadBalancer } from '../constructs/api-load-balancer.js';
import { PaiService } from '../constructs/pai-service.js';
import { metricsNamespace } from '../constructs/telemetry.js';
import type { DataStack } from './data-stack.js';
import type { NetworkStack } from './network-stack.js';

export interface ServicesStackProps extends StackProps {
  readonly stage: StageConfig;
  readonly network: NetworkStack;
  readonly data: DataStack;
}

/** Where one service reaches another inside the cluster (ECS Service Connect). */
export function serviceUrl(service: ServiceName): string {
  return `http://${service}:${SERVICE_PORT}`;
}

/**
 * The ECS cluster, the three Fargate services and the load balancer in front of them. Stateless: it can
 * be destroyed and recreated without losing data. Environment variables follow SPEC's configuration
 * table; secrets come from Secrets Manager through the task execution role.
 */
export class ServicesStack extends Stack {
  readonly cluster: ecs.Cluster;
  readonly services: Readonly<Record<ServiceName, PaiService>>;
  readonly api: ApiLoadBalancer;
  readonly metricsNamespace: string;

  constructor(scope: Construct, id: string, props: ServicesStackProps) {
    super(scope, id, props);
    const { stage, network, data } = props;

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: network.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENHANCED,
      defaultCloudMapNamespace: {
        name: `pai-${stage.name}.internal`,
        type: servicediscovery.NamespaceType.HTTP,
        useForServiceConnect: true,
      },
    });

    this.metricsNamespace = metricsNamespace(stage.name);
    const metricsLogGroup = new logs.LogGroup(this, 'MetricsLogs', { retention: stage.logRetentionDays });

    const prefix = resourcePrefix(stage);
    const internalToken = ecs.Secret.fromSecretsManager(data.secrets.internalToken);
    const common = { LOG_LEVEL: stage.logLevel, AWS_REGION: this.region };
    const environment: Record<ServiceName, Record<string, string>> = {
      agent: {
        ...common,
        LLM_PROVIDER: 'bedrock',
        LLM_MODEL: stage.models.chatModels[0],
        STORE_BACKEND: 'dynamodb',
        DYNAMODB_TABLE_PREFIX: prefix,
        MEMORY_SERVICE_URL: serviceUrl('memory'),
        SEARCH_SERVICE_URL: serviceUrl('search'),
      },
      memory: {
        ...common,
        STORE_BACKEND: 'dynamodb',
        DYNAMODB_TABLE_PREFIX: prefix,
        KEY_PROVIDER: 'kms',
        KMS_KEY_ID: data.keys.userKeyWrappingKey.keyArn,
        SEARCH_SERVICE_URL: serviceUrl('search'),
        // Nothing is stored on disk with these backends; the directory is the task's scratch volume.
        PAI_DATA_DIR: '/tmp/pai',
      },
      search: {
        ...common,
        SEARCH_BACKEND: 'opensearch',
        OPENSEARCH_URL: `https://${data.search.domain.domainEndpoint}`,
        OPENSEARCH_INDEX_PREFIX: prefix,
        OPENSEARCH_AUTH: 'sigv4',
        EMBEDDINGS_PROVIDER: 'bedrock',
        EMBEDDINGS_MODEL: stage.models.embeddingsModel,
        EMBEDDINGS_DIMENSIONS: String(stage.models.embeddingsDimensions),
        STORE_BACKEND: 'dynamodb',
        DYNAMODB_TABLE_PREFIX: prefix,
        // Documents are sealed with the same per-user data keys as the memory service's records.
        KEY_PROVIDER: 'kms',
        KMS_KEY_ID: data.keys.userKeyWrappingKey.keyArn,
        PAI_DATA_DIR: '/tmp/pai',
        MEMORY_SERVICE_URL: serviceUrl('memory'),
      },
    };
    const secrets: Record<ServiceName, Record<string, ecs.Secret>> = {
      agent: { PAI_INTERNAL_TOKEN: internalToken },
      memory: { PAI_INTERNAL_TOKEN: internalToken, PAI_ADMIN_API_KEY: ecs.Secret.fromSecretsManager(data.secrets.adminApiKey) },
      search: { PAI_INTERNAL_TOKEN: internalToken },
    };

    const services = {} as Record<ServiceName, PaiService>;
    for (const service of SERVICE_NAMES) {
      const taskRole = data.roles.roles[service];
      services[service] = new PaiService(this, `${service.charAt(0).toUpperCase()}${service.slice(1)}`, {
        service,
        cluster: this.cluster,
        vpc: network.vpc,
        securityGroup: network.securityGroups.services[service],
        sizing: stage.services[service],
        image: stage.image,
        taskRole,
        environment: environment[service],
        secrets: secrets[service],
        publishToServiceConnect: service !== 'agent',
        shutdownGraceSeconds: stage.shutdownGraceSeconds,
        logRetentionDays: stage.logRetentionDays,
        metrics: { namespace: this.metricsNamespace, logGroup: metricsLogGroup },
      });
      // The metrics collector writes EMF to its log group. A separate policy in this stack, so the
      // roles' stack (DataStack) does not depend on this one.
      new iam.Policy(this, `${service}MetricsWriter`, {
        roles: [taskRole],
        statements: [new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [metricsLogGroup.logGroupArn, `${metricsLogGroup.logGroupArn}:*`],
        })],
      });
    }
    // Publishers first, so clients' Service Connect proxies find them on the first deployment.
    services.agent.service.node.addDependency(services.memory.service, services.search.service);
    services.search.service.node.addDependency(services.memory.service);
    this.services = services;

    this.api = new ApiLoadBalancer(this, 'Api', {
      vpc: network.vpc,
      securityGroup: network.securityGroups.loadBalancer,
      ...(stage.certificateArn === undefined ? {} : { certificateArn: stage.certificateArn }),
      targetGroups: { agent: services.agent.targetGroup, memory: services.memory.targetGroup, search: services.search.targetGroup },
      accessLogs: data.accessLogs,
      deletionProtection: stage.name === 'prod',
    });
    for (const service of SERVICE_NAMES) services[service].enableAutoscaling();

    const scheme = stage.certificateArn === undefined ? 'http' : 'https';
    new CfnOutput(this, 'LoadBalancerDnsName', { value: this.api.loadBalancer.loadBalancerDnsName, description: 'Point your API domain (CNAME / Route 53 alias) here' });
    new CfnOutput(this, 'ApiUrl', { value: `${scheme}://${this.api.loadBalancer.loadBalancerDnsName}`, description: 'Reachable before DNS (certificate name mismatch on HTTPS)' });
    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    for (const service of SERVICE_NAMES) {
      new CfnOutput(this, `${service}ServiceName`, { value: services[service].service.serviceName, description: `ECS service of ${service}` });
    }
  }
}
