import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { resourcePrefix, type StageConfig } from '../../config/environments.js';
import { EncryptionKeys } from '../constructs/encryption-keys.js';
import { PaiTables } from '../constructs/pai-tables.js';
import { pinLogicalId } from '../constructs/pinned-logical-id.js';
import { SearchDomain } from '../constructs/search-domain.js';
import { OPENSEARCH_HTTP_ACTIONS, ServiceRoles } from '../constructs/service-roles.js';
import { ServiceSecrets } from '../constructs/service-secrets.js';
import type { NetworkStack } from './network-stack.js';

export interface DataStackProps extends StackProps {
  readonly stage: StageConfig;
  readonly network: NetworkStack;
}

/**
 * Everything stateful, retained on deletion and with pinned logical ids: the KMS keys, the DynamoDB
 * tables, the OpenSearch domain, the service secrets and the load balancer's access logs — plus the task
 * roles whose grants guard them.
 * Termination protection is on outside dev.
 */
export class DataStack extends Stack {
  readonly keys: EncryptionKeys;
  readonly tables: PaiTables;
  readonly search: SearchDomain;
  readonly secrets: ServiceSecrets;
  readonly roles: ServiceRoles;
  readonly tablePrefix: string;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { ...props, terminationProtection: props.stage.name !== 'dev' });
    const { stage, network } = props;
    this.tablePrefix = resourcePrefix(stage);

    this.keys = new EncryptionKeys(this, 'Keys', { stageName: stage.name });
    this.tables = new PaiTables(this, 'Tables', {
      tablePrefix: this.tablePrefix,
      encryptionKey: this.keys.storageKey,
      deletionProtection: stage.name !== 'dev',
    });
    this.secrets = new ServiceSecrets(this, 'Secrets', { stageName: stage.name });
    this.roles = new ServiceRoles(this, 'ServiceRoles', {
      tablesOf: (service) => this.tables.usableBy(service),
      userKeyWrappingKey: this.keys.userKeyWrappingKey,
      chatModels: stage.models.chatModels,
      embeddingsModel: stage.models.embeddingsModel,
    });
    this.search = new SearchDomain(this, 'Search', {
      sizing: stage.opensearch,
      vpc: network.vpc,
      subnets: network.dataSubnets(stage.opensearch.zones),
      securityGroup: network.securityGroups.searchDomain,
      encryptionKey: this.keys.storageKey,
      masterUserRole: this.roles.roles.search,
    });
    // ALB access logs only support SSE-S3 (not KMS).
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(stage.logRetentionDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pinLogicalId(this.accessLogs, 'PaiAccessLogsBucket');

    this.roles.roles.search.addToPolicy(new iam.PolicyStatement({
      sid: 'OpenSearchHttp',
      actions: [...OPENSEARCH_HTTP_ACTIONS],
      resources: [this.search.domain.domainArn, `${this.search.domain.domainArn}/*`],
    }));

    new CfnOutput(this, 'AdminApiKeySecretArn', { value: this.secrets.adminApiKey.secretArn, description: 'The first admin key: aws secretsmanager get-secret-value --secret-id <this>' });
    new CfnOutput(this, 'InternalTokenSecretArn', { value: this.secrets.internalToken.secretArn });
    new CfnOutput(this, 'UserKeyWrappingKeyArn', { value: this.keys.userKeyWrappingKey.keyArn });
    new CfnOutput(this, 'SearchDomainEndpoint', { value: this.search.domain.domainEndpoint });
    new CfnOutput(this, 'TablePrefix', { value: this.tablePrefix });
  }
}
