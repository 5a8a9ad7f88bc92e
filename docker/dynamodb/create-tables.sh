#!/bin/sh
# GENERATED from infra/lib/constructs/pai-tables.ts by infra/bin/generate-local-config.ts — do not edit.
# Creates in DynamoDB Local the tables the CDK app creates in AWS. Safe to run again.
set -eu
: "${DYNAMODB_ENDPOINT:=http://dynamodb:8000}"
: "${DYNAMODB_TABLE_PREFIX:=pai-local-}"

# DynamoDB Local takes a few seconds to accept requests.
tries=0
until aws dynamodb list-tables --endpoint-url "$DYNAMODB_ENDPOINT" >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then echo "DynamoDB Local is not answering at $DYNAMODB_ENDPOINT" >&2; exit 1; fi
  sleep 1
done

create_table() {
  if aws dynamodb describe-table --endpoint-url "$DYNAMODB_ENDPOINT" --table-name "$1" >/dev/null 2>&1; then
    echo "exists: $1"
    return 0
  fi
  aws dynamodb create-table --endpoint-url "$DYNAMODB_ENDPOINT" --table-name "$1" \
    --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S AttributeName=gsi1pk,AttributeType=S AttributeName=gsi1sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    --global-secondary-indexes 'IndexName=gsi1,KeySchema=[{AttributeName=gsi1pk,KeyType=HASH},{AttributeName=gsi1sk,KeyType=RANGE}],Projection={ProjectionType=ALL}' >/dev/null
  aws dynamodb update-time-to-live --endpoint-url "$DYNAMODB_ENDPOINT" --table-name "$1" \
    --time-to-live-specification Enabled=true,AttributeName=ttl >/dev/null
  echo "created: $1"
}

create_table "${DYNAMODB_TABLE_PREFIX}users"  # memory: users and API keys (hashes only)
create_table "${DYNAMODB_TABLE_PREFIX}data-keys"  # memory: each user's wrapped data key (deleted on crypto-shred)
create_table "${DYNAMODB_TABLE_PREFIX}conversations"  # memory: conversations, messages, running summaries
create_table "${DYNAMODB_TABLE_PREFIX}memories"  # memory: long-term memories and the formation queue
create_table "${DYNAMODB_TABLE_PREFIX}agents"  # agent: agent registry, versions, routing weights, evaluations
create_table "${DYNAMODB_TABLE_PREFIX}usage"  # agent: token usage and cost per user / model / agent / day
create_table "${DYNAMODB_TABLE_PREFIX}documents"  # search: documents, chunks bookkeeping, indexing progress
