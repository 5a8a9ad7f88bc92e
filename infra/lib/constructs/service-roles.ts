import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { SERVICE_NAMES, type ServiceName } from '../../../packages/contracts/src/routing.js';

/** Item-level DynamoDB actions a service needs on its own tables (no table management, no streams). */
export const TABLE_DATA_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:TransactGetItems',
  'dynamodb:TransactWriteItems',
  'dynamodb:DescribeTable',
] as const;

/** Bedrock invocation (Converse uses InvokeModel, ConverseStream uses InvokeModelWithResponseStream). */
export const BEDROCK_CHAT_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'] as const;
export const BEDROCK_EMBEDDING_ACTIONS = ['bedrock:InvokeModel'] as const;
/** Data-key wrapping only: no Encrypt (plaintext in), no key administration. */
export const DATA_KEY_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'] as const;
export const OPENSEARCH_HTTP_ACTIONS = ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut', 'es:ESHttpDelete'] as const;

export interface ServiceRolesProps {
  readonly tablesOf: (service: ServiceName) => dynamodb.ITable[];
  readonly userKeyWrappingKey: kms.IKey;
  readonly chatModels: readonly string[];
  readonly embeddingsModel: string;
}

/**
 * The three ECS task roles, with least privilege:
 * - each service reads and writes only its own tables (and those shared with it: the search service
 *   indexes memories and messages and stores documents sealed with the same per-user data keys);
 * - only the memory and search services may generate and decrypt data keys with the user-key wrapping key;
 * - only the agent may invoke the configured chat models (streaming included);
 * - the search service may invoke only the configured embeddings model (it owns embeddings, SPEC),
 *   and is the only one with OpenSearch HTTP access (granted in DataStack, where the domain lives).
 * They live with the data they guard, so the grants are reviewed in one place.
 */
export class ServiceRoles extends Construct {
  readonly roles: Readonly<Record<ServiceName, iam.Role>>;

  constructor(scope: Construct, id: string, props: ServiceRolesProps) {
    super(scope, id);
    const roles = {} as Record<ServiceName, iam.Role>;
    for (const service of SERVICE_NAMES) {
      const role = new iam.Role(this, `${capitalize(service)}TaskRole`, {
        assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
        description: `PAI ${service} service (ECS task role)`,
      });
      const tables = props.tablesOf(service);
      if (tables.length > 0) {
        role.addToPolicy(new iam.PolicyStatement({
          sid: 'OwnTablesOnly',
          actions: [...TABLE_DATA_ACTIONS],
          resources: tables.flatMap((t) => [t.tableArn, `${t.tableArn}/index/*`]),
        }));
      }
      roles[service] = role;
    }

    for (const service of ['memory', 'search'] as const) {
      roles[service].addToPolicy(new iam.PolicyStatement({
        sid: 'WrapAndUnwrapUserDataKeys',
        actions: [...DATA_KEY_ACTIONS],
        resources: [props.userKeyWrappingKey.keyArn],
      }));
    }
    roles.agent.addToPolicy(new iam.PolicyStatement({
      sid: 'InvokeConfiguredChatModels',
      actions: [...BEDROCK_CHAT_ACTIONS],
      resources: props.chatModels.flatMap((model) => bedrockModelArns(this, model)),
    }));
    roles.search.addToPolicy(new iam.PolicyStatement({
      sid: 'InvokeConfiguredEmbeddingsModel',
      actions: [...BEDROCK_EMBEDDING_ACTIONS],
      resources: bedrockModelArns(this, props.embeddingsModel),
    }));
    this.roles = roles;
  }
}

const GEO_PREFIX = /^(us|eu|apac|us-gov|ca|jp|au|global)\.(.+)$/;

/**
 * ARNs for one Bedrock model id. A cross-region inference profile id (`us.anthropic…`) needs the
 * profile in this region and the underlying foundation model in every region the profile routes to.
 */
export function bedrockModelArns(scope: Construct, modelId: string): string[] {
  const stack = Stack.of(scope);
  const profile = GEO_PREFIX.exec(modelId);
  if (profile === null) return [`arn:${stack.partition}:bedrock:${stack.region}::foundation-model/${modelId}`];
  return [
    `arn:${stack.partition}:bedrock:${stack.region}:${stack.account}:inference-profile/${modelId}`,
    `arn:${stack.partition}:bedrock:*::foundation-model/${profile[2]}`,
  ];
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
