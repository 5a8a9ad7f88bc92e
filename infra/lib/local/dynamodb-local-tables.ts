import { TABLE_KEYS, TABLE_SPECS, type TableSpec } from '../constructs/pai-tables.js';

export const DYNAMODB_TABLES_SCRIPT_PATH = 'docker/dynamodb/create-tables.sh';

/**
 * The script docker compose runs once against DynamoDB Local to create the tables the CDK app creates
 * in AWS (same names after DYNAMODB_TABLE_PREFIX, same keys, GSI and TTL attribute). Idempotent.
 */
export function renderDynamoDbLocalTablesScript(tables: readonly TableSpec[] = TABLE_SPECS): string {
  const k = TABLE_KEYS;
  const attributes = [k.partitionKey, k.sortKey, k.gsi.partitionKey, k.gsi.sortKey].map((a) => `AttributeName=${a},AttributeType=S`).join(' ');
  const gsi = `IndexName=${k.gsi.indexName},KeySchema=[{AttributeName=${k.gsi.partitionKey},KeyType=HASH},{AttributeName=${k.gsi.sortKey},KeyType=RANGE}],Projection={ProjectionType=ALL}`;
  return [
    '#!/bin/sh',
    '# GENERATED from infra/lib/constructs/pai-tables.ts by infra/bin/generate-local-config.ts — do not edit.',
    '# Creates in DynamoDB Local the tables the CDK app creates in AWS. Safe to run again.',
    'set -eu',
    ': "${DYNAMODB_ENDPOINT:=http://dynamodb:8000}"',
    ': "${DYNAMODB_TABLE_PREFIX:=pai-local-}"',
    '',
    '# DynamoDB Local takes a few seconds to accept requests.',
    'tries=0',
    'until aws dynamodb list-tables --endpoint-url "$DYNAMODB_ENDPOINT" >/dev/null 2>&1; do',
    '  tries=$((tries + 1))',
    '  if [ "$tries" -ge 60 ]; then echo "DynamoDB Local is not answering at $DYNAMODB_ENDPOINT" >&2; exit 1; fi',
    '  sleep 1',
    'done',
    '',
    'create_table() {',
    '  if aws dynamodb describe-table --endpoint-url "$DYNAMODB_ENDPOINT" --table-name "$1" >/dev/null 2>&1; then',
    '    echo "exists: $1"',
    '    return 0',
    '  fi',
    '  aws dynamodb create-table --endpoint-url "$DYNAMODB_ENDPOINT" --table-name "$1" \\',
    '    --billing-mode PAY_PER_REQUEST \\',
    `    --attribute-definitions ${attributes} \\`,
    `    --key-schema AttributeName=${k.partitionKey},KeyType=HASH AttributeName=${k.sortKey},KeyType=RANGE \\`,
    `    --global-secondary-indexes '${gsi}' >/dev/null`,
    '  aws dynamodb update-time-to-live --endpoint-url "$DYNAMODB_ENDPOINT" --table-name "$1" \\',
    `    --time-to-live-specification Enabled=true,AttributeName=${k.ttlAttribute} >/dev/null`,
    '  echo "created: $1"',
    '}',
    '',
    ...tables.map((t) => `create_table "\${DYNAMODB_TABLE_PREFIX}${t.name}"  # ${t.owner}: ${t.holds}`),
    '',
  ].join('\n');
}
