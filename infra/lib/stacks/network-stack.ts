import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { SERVICE_PORT, type ServiceName } from '../../../packages/contracts/src/routing.js';
import type { StageConfig } from '../../config/environments.js';

export interface NetworkStackProps extends StackProps {
  readonly stage: StageConfig;
}

export interface ServiceSecurityGroups {
  readonly loadBalancer: ec2.SecurityGroup;
  readonly services: Readonly<Record<ServiceName, ec2.SecurityGroup>>;
  readonly searchDomain: ec2.SecurityGroup;
}

/**
 * The VPC and who may talk to whom. Subnets: `public` (load balancer, NAT gateways), `app` (the Fargate
 * tasks, private with egress) and `data` (the OpenSearch domain, isolated). AWS APIs are reached over VPC
 * endpoints (DynamoDB and S3 gateways; KMS, Bedrock runtime, ECR, CloudWatch Logs, Secrets Manager
 * interfaces) so data-plane traffic never leaves the VPC; the NAT gateways remain for public images.
 * All security groups live here, so the network policy reads in one place.
 */
export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly securityGroups: ServiceSecurityGroups;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { stage } = props;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
      availabilityZones: [...stage.availabilityZones],
      natGateways: stage.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      restrictDefaultSecurityGroup: false,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogGroup', { retention: stage.logRetentionDays })),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    this.vpc.addGatewayEndpoint('DynamoDbEndpoint', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    // ECR stores image layers in S3.
    this.vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    const interfaceEndpoints: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      KmsEndpoint: ec2.InterfaceVpcEndpointAwsService.KMS,
      BedrockRuntimeEndpoint: ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,
      EcrApiEndpoint: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDockerEndpoint: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      LogsEndpoint: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      SecretsManagerEndpoint: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    };
    for (const [id, service] of Object.entries(interfaceEndpoints)) {
      this.vpc.addInterfaceEndpoint(id, { service, subnets: { subnetGroupName: 'app' }, privateDnsEnabled: true });
    }

    const group = (id: string, description: string) => new ec2.SecurityGroup(this, id, { vpc: this.vpc, description, allowAllOutbound: true });
    const loadBalancer = group('LoadBalancerSecurityGroup', 'PAI load balancer');
    const services = {
      agent: group('AgentSecurityGroup', 'PAI agent tasks'),
      memory: group('MemorySecurityGroup', 'PAI memory tasks'),
      search: group('SearchSecurityGroup', 'PAI search tasks'),
    };
    const searchDomain = new ec2.SecurityGroup(this, 'SearchDomainSecurityGroup', {
      vpc: this.vpc,
      description: 'PAI OpenSearch domain',
      allowAllOutbound: false,
    });

    const listenerPorts = stage.certificateArn === undefined ? [80] : [443, 80];
    for (const cidr of stage.allowedIngressCidrs) {
      for (const port of listenerPorts) loadBalancer.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(port), `clients (${port === 80 && stage.certificateArn !== undefined ? 'redirected to HTTPS' : 'API'})`);
    }
    const app = ec2.Port.tcp(SERVICE_PORT);
    for (const sg of Object.values(services)) sg.addIngressRule(loadBalancer, app, 'from the load balancer');
    // Service-to-service calls (Service Connect): agent → memory, search; search → memory; memory → search.
    services.memory.addIngressRule(services.agent, app, 'agent → memory');
    services.memory.addIngressRule(services.search, app, 'search → memory');
    services.search.addIngressRule(services.agent, app, 'agent → search');
    services.search.addIngressRule(services.memory, app, 'memory → search (index deletes)');
    searchDomain.addIngressRule(services.search, ec2.Port.tcp(443), 'search service → OpenSearch (HTTPS)');

    this.securityGroups = { loadBalancer, services, searchDomain };
  }

  /** The isolated subnets the OpenSearch domain uses, one per zone it spans. */
  dataSubnets(zones: number): ec2.ISubnet[] {
    return this.vpc.selectSubnets({ subnetGroupName: 'data' }).subnets.slice(0, zones);
  }
}
