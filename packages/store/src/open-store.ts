import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Store } from './index.js';
import type { JobQueue } from './job-queue.js';
import { createEmbeddedJobQueue, createEmbeddedStore } from './adapters/embedded.js';
import { createDynamoDbStore } from './adapters/dynamodb.js';
import { createDynamoDbJobQueue } from './adapters/dynamodb/job-queue.js';

export type StoreSelection =
  | {
      backend: 'embedded';
      /** Directory of the embedded database. */
      dataDir: string;
      /** File name under dataDir; services that run apart each keep their own. */
      file?: string;
    }
  | {
      backend: 'dynamodb';
      region: string;
      /** DynamoDB Local, dynalite or a VPC endpoint; the region's endpoint when omitted. */
      endpoint?: string | undefined;
      tablePrefix: string;
    };

function dynamoDbClient(selection: Extract<StoreSelection, { backend: 'dynamodb' }>): DynamoDBClient {
  return new DynamoDBClient({
    region: selection.region,
    ...(selection.endpoint ? { endpoint: selection.endpoint } : {}),
    maxAttempts: 3,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 10_000 }),
  });
}

/** The store a service's configuration selects (credentials for DynamoDB come from the AWS SDK's default chain). */
export function openStore(selection: StoreSelection): Store {
  switch (selection.backend) {
    case 'embedded':
      return createEmbeddedStore({ path: join(selection.dataDir, selection.file ?? 'pai.db') });
    case 'dynamodb': {
      const client = dynamoDbClient(selection);
      const store = createDynamoDbStore({ client, tablePrefix: selection.tablePrefix });
      // The adapter leaves its injected client open; this one is ours to close.
      return { ...store, close: async () => { await store.close(); client.destroy(); } };
    }
  }
}

/** The background-job queue beside the selected store (same database file, or the DynamoDB memories table). */
export function openJobQueue(selection: StoreSelection): JobQueue {
  switch (selection.backend) {
    case 'embedded':
      return createEmbeddedJobQueue({ path: join(selection.dataDir, selection.file ?? 'pai.db') });
    case 'dynamodb': {
      const client = dynamoDbClient(selection);
      const queue = createDynamoDbJobQueue({ client, tablePrefix: selection.tablePrefix });
      return { ...queue, close: async () => { await queue.close(); client.destroy(); } };
    }
  }
}
