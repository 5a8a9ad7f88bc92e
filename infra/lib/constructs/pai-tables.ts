import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { ServiceName } from '../../../packages/contracts/src/routing.js';
import { pinLogicalId } from './pinned-logical-id.js';

/**
 * The DynamoDB tables, each owned by exactly one service (only its task role may touch it). Every table
 * has the same generic single-table key shape so the store adapters can lay out their items freely:
 * partition key `pk`, sort key `sk`, one GSI `gsi1` (`gsi1pk`, `gsi1sk`), TTL attribute `ttl` (epoch
 * seconds). The physical name is `DYNAMODB_TABLE_PREFIX` + `name` — the one place PAI finds resources by
 * name, because the services read a prefix (SPEC configuration); the prefix carries the stage.
 */
export interface TableSpec {
  /** Pinned CloudFormation logical id. */
  readonly logicalId: string;
  /** Suffix of the physical name after DYNAMODB_TABLE_PREFIX. */
  readonly name: string;
  readonly owner: ServiceName;
  /**
   * Other services that read and write it: the search service indexes users' memories and messages,
   * seals documents with the users' data keys and queues document indexing next to the formation queue;
   * the memory service deletes a user's records from every table (account deletion).
   */
  readonly sharedWith?: readonly ServiceName[];
  readonly holds: string;
}

export const TABLE_SPECS: readonly TableSpec[] = [
  { logicalId: 'PaiUsersTable', name: 'users', owner: 'memory', sharedWith: ['search'], holds: 'users and API keys (hashes only)' },
  { logicalId: 'PaiDataKeysTable', name: 'data-keys', owner: 'memory', sharedWith: ['search'], holds: "each user's wrapped data key (deleted on crypto-shred)" },
  { logicalId: 'PaiConversationsTable', name: 'conversations', owner: 'memory', sharedWith: ['search'], holds: 'conversations, messages, running summaries' },
  { logicalId: 'PaiMemoriesTable', name: 'memories', owner: 'memory', sharedWith: ['search'], holds: 'long-term memories and the formation queue' },
  { logicalId: 'PaiAgentsTable', name: 'agents', owner: 'agent', sharedWith: ['memory'], holds: 'agent registry, versions, routing weights, evaluations' },
  { logicalId: 'PaiUsageTable', name: 'usage', owner: 'agent', sharedWith: ['memory'], holds: 'token usage and cost per user / model / agent / day' },
  { logicalId: 'PaiDocumentsTable', name: 'documents', owner: 'search', sharedWith: ['memory'], holds: 'documents, chunks bookkeeping, indexing progress' },
];

export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  gsi: { indexName: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  ttlAttribute: 'ttl',
} as const;

export interface PaiTablesProps {
  readonly tablePrefix: string;
  readonly encryptionKey: kms.IKey;
  /** Refuse DeleteTable even from the console (staging, prod). */
  readonly deletionProtection: boolean;
}

export class PaiTables extends Construct {
  readonly tables: ReadonlyMap<string, dynamodb.Table>;

  constructor(scope: Construct, id: string, props: PaiTablesProps) {
    super(scope, id);
    const tables = new Map<string, dynamodb.Table>();
    for (const spec of TABLE_SPECS) {
      const table = new dynamodb.Table(this, spec.logicalId, {
        tableName: `${props.tablePrefix}${spec.name}`,
        partitionKey: { name: TABLE_KEYS.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: TABLE_KEYS.sortKey, type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: props.encryptionKey,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
        deletionProtection: props.deletionProtection,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      table.addGlobalSecondaryIndex({
        indexName: TABLE_KEYS.gsi.indexName,
        partitionKey: { name: TABLE_KEYS.gsi.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: TABLE_KEYS.gsi.sortKey, type: dynamodb.AttributeType.STRING },
      });
      pinLogicalId(table, spec.logicalId);
      tables.set(spec.name, table);
    }
    this.tables = tables;
  }

  /** The tables a service owns or shares. */
  usableBy(service: ServiceName): dynamodb.Table[] {
    return TABLE_SPECS.filter((s) => s.owner === service || s.sharedWith?.includes(service)).map((s) => this.tables.get(s.name)!);
  }
}
