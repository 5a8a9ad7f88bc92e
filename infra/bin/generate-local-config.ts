import { readFileSync, writeFileSync } from 'node:fs';
import { DYNAMODB_TABLES_SCRIPT_PATH, renderDynamoDbLocalTablesScript } from '../lib/local/dynamodb-local-tables.js';
import { EDGE_CONFIG_PATH, renderEdgeNginxConfig } from '../lib/local/edge-nginx-config.js';

/**
 * Writes the generated files docker compose uses (run from the repository root after changing the
 * routing table or the tables):
 *   node --import tsx infra/bin/generate-local-config.ts          write them
 *   node --import tsx infra/bin/generate-local-config.ts --check  exit 1 if a committed file is stale
 */
const root = new URL('../../', import.meta.url);
const files: Record<string, string> = {
  [EDGE_CONFIG_PATH]: renderEdgeNginxConfig(),
  [DYNAMODB_TABLES_SCRIPT_PATH]: renderDynamoDbLocalTablesScript(),
};
const check = process.argv.includes('--check');
let stale = 0;
for (const [path, content] of Object.entries(files)) {
  const url = new URL(path, root);
  let current: string | undefined;
  try {
    current = readFileSync(url, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === content) continue;
  if (check) {
    console.error(`${path} is out of date: run node --import tsx infra/bin/generate-local-config.ts`);
    stale++;
  } else {
    writeFileSync(url, content, { mode: path.endsWith('.sh') ? 0o755 : 0o644 });
    console.log(`wrote ${path}`);
  }
}
process.exit(stale === 0 ? 0 : 1);
