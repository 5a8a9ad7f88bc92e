import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Store } from './index.js';
import { createEmbeddedStore } from './adapters/embedded.js';
import { createDynamoDbStore } from './adapters/dynamodb.js';

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

/** The store a service's configuration selects (credentials for DynamoDB come from the AWS SDK's default chain). */
export function openStore(selection: StoreSelection): Store {
  switch (selection.backend) {
    case 'embedded':
      return createEmbeddedStore({ path: join(selection.dataDir, selection.file ?? 'pai.db') });
    case 'dynamodb': {
      const client = new DynamoDBClient({
        region: selection.region,
        ...(selection.endpoint ? { endpoint: selection.endpoint } : {}),
        maxAttempts: 3,
        requestHandler: new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 10_000 }),
      });
      const store = createDynamoDbStore({ client, tablePrefix: selection.tablePrefix });
      // The adapter leaves its injected client open; this one is ours to close.
      return { ...store, close: async () => { await store.close(); client.destroy(); } };
    }
  }
}
