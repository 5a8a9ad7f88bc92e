import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { pinLogicalId } from './pinned-logical-id.js';

export interface EncryptionKeysProps {
  readonly stageName: string;
}

/**
 * Two customer-managed keys with yearly automatic rotation, both retained:
 *
 * - `storageKey` encrypts the stores at rest (DynamoDB tables, the OpenSearch domain, the alarm topic).
 *   Principals never call KMS with it directly: the key policy lets account principals use it only
 *   through DynamoDB (kms:ViaService), and lets CloudWatch publish encrypted alarm notifications.
 * - `userKeyWrappingKey` wraps each user's data key (KEY_PROVIDER=kms, KMS_KEY_ID). Only the memory
 *   service's task role is granted GenerateDataKey/Decrypt on it (see ServiceRoles); no service path.
 *   Separate keys keep "who can read the stores" and "who can unwrap a user's key" independent.
 */
export class EncryptionKeys extends Construct {
  readonly storageKey: kms.Key;
  readonly userKeyWrappingKey: kms.Key;

  constructor(scope: Construct, id: string, props: EncryptionKeysProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.storageKey = new kms.Key(this, 'StorageKey', {
      description: `PAI ${props.stageName}: encryption at rest of DynamoDB, OpenSearch and the alarm topic`,
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
      alias: `alias/pai-${props.stageName}/storage`,
    });
    this.storageKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowUseThroughDynamoDBForAccountPrincipals',
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey', 'kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        StringEquals: {
          'kms:CallerAccount': stack.account,
          'kms:ViaService': `dynamodb.${stack.region}.amazonaws.com`,
        },
      },
    }));
    this.storageKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublishEncrypted',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }));
    pinLogicalId(this.storageKey, 'PaiStorageKey');

    this.userKeyWrappingKey = new kms.Key(this, 'UserKeyWrappingKey', {
      description: `PAI ${props.stageName}: wraps per-user data keys (KMS_KEY_ID of the memory service)`,
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      pendingWindow: Duration.days(30),
      removalPolicy: RemovalPolicy.RETAIN,
      alias: `alias/pai-${props.stageName}/user-keys`,
    });
    pinLogicalId(this.userKeyWrappingKey, 'PaiUserKeyWrappingKey');
  }
}
