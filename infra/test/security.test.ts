import { CfnElement, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import t from 'tap';
import { SERVICE_NAMES, type ServiceName } from '../../packages/contracts/src/routing.js';
import { STAGES } from '../config/environments.js';
import { TABLE_SPECS } from '../lib/constructs/pai-tables.js';
import { BEDROCK_CHAT_ACTIONS, DATA_KEY_ACTIONS, TABLE_DATA_ACTIONS } from '../lib/constructs/service-roles.js';
import { asArray, refTarget, resourcesOf, synthStage, type SynthesizedStage } from './helpers/synth.js';

/** Every security-relevant property of the synthesized stacks, on prod (and dev where it differs). */

const prod = synthStage(STAGES.prod);
const dev = synthStage(STAGES.dev);

function logicalId(construct: IConstruct): string {
  const element = construct instanceof CfnElement ? construct : (construct.node.defaultChild as CfnElement);
  return Stack.of(element).resolve(element.logicalId) as string;
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Sid?: string;
}

/** Every identity-policy statement attached to a role, in any stack of the stage. */
function statementsOf(s: SynthesizedStage, roleId: string): Statement[] {
  const statements: Statement[] = [];
  for (const [, resource] of Object.entries(s.resources)) {
    if (resource.Type === 'AWS::IAM::Policy' && JSON.stringify(resource.Properties!.Roles).includes(roleId)) {
      statements.push(...resource.Properties!.PolicyDocument.Statement);
    }
    if (resource.Type === 'AWS::IAM::ManagedPolicy' && JSON.stringify(resource.Properties!.Roles ?? []).includes(roleId)) {
      statements.push(...resource.Properties!.PolicyDocument.Statement);
    }
  }
  const role = s.resources[roleId]!;
  for (const policy of asArray<{ PolicyDocument: { Statement: Statement[] } }>(role.Properties!.Policies)) statements.push(...policy.PolicyDocument.Statement);
  t.same(role.Properties!.ManagedPolicyArns, undefined, `${roleId} has no managed policies`);
  return statements;
}

const actionsOf = (statements: Statement[]) => statements.flatMap((s) => asArray(s.Action));
const taskRoleId = (s: SynthesizedStage, service: ServiceName) => logicalId(s.stage.data.roles.roles[service]);

t.test('DynamoDB: customer-managed KMS encryption, PITR, retained, deletion protection outside dev', async (t) => {
  const storageKey = logicalId(prod.stage.data.keys.storageKey);
  const tables = resourcesOf(prod.data, 'AWS::DynamoDB::Table');
  t.same(Object.keys(tables).sort(), TABLE_SPECS.map((s) => s.logicalId).sort(), 'exactly the catalogued tables, with pinned logical ids');
  for (const [id, table] of Object.entries(tables)) {
    t.same(table.Properties!.SSESpecification, { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [storageKey, 'Arn'] } }, `${id}: encrypted with the storage key`);
    t.same(table.Properties!.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true }, `${id}: PITR`);
    t.equal(table.DeletionPolicy, 'Retain', `${id}: retained on delete`);
    t.equal(table.UpdateReplacePolicy, 'Retain', `${id}: retained on replacement`);
    t.equal(table.Properties!.DeletionProtectionEnabled, true, `${id}: deletion protection (prod)`);
    t.match(table.Properties!.TableName, /^pai-prod-/, `${id}: named by the stage's DYNAMODB_TABLE_PREFIX`);
  }
  for (const table of Object.values(resourcesOf(dev.data, 'AWS::DynamoDB::Table'))) {
    t.equal(table.DeletionPolicy, 'Retain', 'retained in dev too');
    t.equal(table.Properties!.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
  }
});

t.test('KMS: two customer-managed keys, rotated, retained; the storage key is usable only through DynamoDB', async (t) => {
  const keys = resourcesOf(prod.data, 'AWS::KMS::Key');
  t.same(Object.keys(keys).sort(), ['PaiStorageKey', 'PaiUserKeyWrappingKey']);
  for (const [id, key] of Object.entries(keys)) {
    t.equal(key.Properties!.EnableKeyRotation, true, `${id}: automatic rotation`);
    t.equal(key.DeletionPolicy, 'Retain', `${id}: retained`);
    t.equal(key.Properties!.PendingWindowInDays, 30);
    for (const statement of key.Properties!.KeyPolicy.Statement as Statement[]) {
      if (JSON.stringify(statement.Principal) === '{"AWS":"*"}') {
        t.same(Object.keys(statement.Condition!.StringEquals!).sort(), ['kms:CallerAccount', 'kms:ViaService'], `${id}: an open principal only with caller-account and via-service conditions`);
        t.equal(statement.Condition!.StringEquals!['kms:ViaService'], 'dynamodb.us-east-1.amazonaws.com');
      }
    }
  }
  const wrapping = keys.PaiUserKeyWrappingKey!.Properties!.KeyPolicy.Statement as Statement[];
  t.notOk(wrapping.some((s) => JSON.stringify(s.Principal).includes('"*"') || s.Condition?.StringEquals?.['kms:ViaService']), 'no service or open grant on the user-key wrapping key');
});

t.test('least privilege: each task role can do exactly its own job', async (t) => {
  const userKey = logicalId(prod.stage.data.keys.userKeyWrappingKey);
  const tableArnsOf = (service: ServiceName) =>
    TABLE_SPECS.filter((s) => s.owner === service || s.sharedWith?.includes(service)).map((s) => s.logicalId).sort();
  for (const service of SERVICE_NAMES) {
    const statements = statementsOf(prod, taskRoleId(prod, service));
    const actions = actionsOf(statements);
    t.ok(statements.every((s) => s.Effect === 'Allow'), `${service}: allow statements only`);
    t.notOk(actions.some((a) => a === '*' || a.endsWith(':*')), `${service}: no wildcard actions`);
    t.notOk(statements.some((s) => asArray(s.Resource).includes('*')), `${service}: no statement on every resource`);

    const dynamo = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('dynamodb:')));
    t.equal(dynamo.length, 1, `${service}: one DynamoDB statement`);
    t.same(asArray(dynamo[0]!.Action).sort(), [...TABLE_DATA_ACTIONS].sort(), `${service}: item-level actions only`);
    const tablesReached = [...new Set(asArray(dynamo[0]!.Resource).map((r) => JSON.stringify(r).match(/"(Pai\w+Table)"/)?.[1]))].sort();
    t.same(tablesReached, tableArnsOf(service), `${service}: only its own tables (and their indexes)`);
  }

  const agent = statementsOf(prod, taskRoleId(prod, 'agent'));
  const memory = statementsOf(prod, taskRoleId(prod, 'memory'));
  const search = statementsOf(prod, taskRoleId(prod, 'search'));

  t.notOk(actionsOf(agent).some((a) => a.startsWith('kms:')), 'the agent has no KMS permission (no decrypt)');
  for (const [service, statements] of [['memory', memory], ['search', search]] as const) {
    const kms = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('kms:')));
    t.equal(kms.length, 1, `${service}: one KMS statement`);
    t.same(asArray(kms[0]!.Action).sort(), [...DATA_KEY_ACTIONS].sort(), `${service}: GenerateDataKey and Decrypt only`);
    t.same(kms[0]!.Resource, { 'Fn::GetAtt': [userKey, 'Arn'] }, `${service}: on the user-key wrapping key only`);
  }

  t.notOk(actionsOf(memory).some((a) => a.startsWith('bedrock:')), 'the memory service cannot invoke Bedrock');
  const agentBedrock = agent.filter((s) => asArray(s.Action).some((a) => a.startsWith('bedrock:')));
  t.same(agentBedrock.flatMap((s) => asArray(s.Action)).sort(), [...BEDROCK_CHAT_ACTIONS].sort(), 'agent: InvokeModel (Converse) and InvokeModelWithResponseStream (ConverseStream)');
  const agentModels = JSON.stringify(agentBedrock.flatMap((s) => asArray(s.Resource)));
  for (const model of STAGES.prod.models.chatModels) t.match(agentModels, model.replace(/^us\./, ''), `agent may invoke ${model}`);
  t.notMatch(agentModels, 'titan-embed', 'agent: not the embeddings model');
  t.notMatch(agentModels, 'foundation-model/*"', 'agent: no wildcard model');
  const searchBedrock = search.filter((s) => asArray(s.Action).some((a) => a.startsWith('bedrock:')));
  t.same(searchBedrock.flatMap((s) => asArray(s.Action)), ['bedrock:InvokeModel'], 'search: InvokeModel only (embeddings)');
  t.same(searchBedrock.flatMap((s) => asArray(s.Resource)), [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0']] }], 'search: the embeddings model only');

  t.notOk(actionsOf(agent).concat(actionsOf(memory)).some((a) => a.startsWith('es:')), 'only the search service talks to OpenSearch');
  t.ok(actionsOf(search).some((a) => a === 'es:ESHttpPost'), 'search: OpenSearch HTTP');
});

t.test('secrets: generated in Secrets Manager, retained, each given only to who needs it', async (t) => {
  const secrets = resourcesOf(prod.data, 'AWS::SecretsManager::Secret');
  t.same(Object.keys(secrets).sort(), ['PaiAdminApiKeySecret', 'PaiInternalTokenSecret']);
  for (const secret of Object.values(secrets)) {
    t.equal(secret.DeletionPolicy, 'Retain');
    t.ok(secret.Properties!.GenerateSecretString.PasswordLength >= 32, 'long generated value');
  }
  const taskDefinitions = resourcesOf(prod.services, 'AWS::ECS::TaskDefinition');
  for (const definition of Object.values(taskDefinitions)) {
    const app = definition.Properties!.ContainerDefinitions[0];
    const names = asArray<{ Name: string }>(app.Secrets).map((s) => s.Name).sort();
    t.same(names, app.Name === 'memory' ? ['PAI_ADMIN_API_KEY', 'PAI_INTERNAL_TOKEN'] : ['PAI_INTERNAL_TOKEN'], `${app.Name}: secrets from Secrets Manager`);
    const plain = JSON.stringify(app.Environment);
    t.notMatch(plain, /ADMIN_API_KEY|INTERNAL_TOKEN|MASTER_KEY/, `${app.Name}: no secret in plain environment`);
    // The execution role reads the secrets it injects, nothing more.
    const executionRole = refTarget(definition.Properties!.ExecutionRoleArn)!;
    const secretStatements = statementsOf(prod, executionRole).filter((s) => asArray(s.Action).some((a) => a.startsWith('secretsmanager:')));
    const readable = JSON.stringify(secretStatements.map((s) => s.Resource));
    t.equal(readable.includes('PaiAdminApiKeySecret'), app.Name === 'memory', `${app.Name}: admin key readable only by the memory task`);
  }
});

t.test('OpenSearch: in the VPC, encrypted at rest and in transit, HTTPS/TLS 1.2, fine-grained access, retained', async (t) => {
  const domains = resourcesOf(prod.data, 'AWS::OpenSearchService::Domain');
  t.same(Object.keys(domains), ['PaiSearchDomain']);
  const domain = domains.PaiSearchDomain!;
  const p = domain.Properties!;
  t.equal(domain.DeletionPolicy, 'Retain');
  t.equal(p.VPCOptions.SubnetIds.length, 3, 'in three private subnets (prod)');
  t.equal(p.VPCOptions.SecurityGroupIds.length, 1);
  t.same(p.EncryptionAtRestOptions, { Enabled: true, KmsKeyId: { Ref: 'PaiStorageKey' } }, 'encrypted at rest with the storage key');
  t.same(p.NodeToNodeEncryptionOptions, { Enabled: true });
  t.same(p.DomainEndpointOptions, { EnforceHTTPS: true, TLSSecurityPolicy: 'Policy-Min-TLS-1-2-2019-07' });
  t.equal(p.AdvancedSecurityOptions.Enabled, true, 'fine-grained access control');
  t.equal(p.AdvancedSecurityOptions.InternalUserDatabaseEnabled, false, 'no internal users (IAM only)');
  t.same(p.AdvancedSecurityOptions.MasterUserOptions.MasterUserARN, { 'Fn::GetAtt': [taskRoleId(prod, 'search'), 'Arn'] }, 'master user: the search task role');
  t.equal(p.AccessPolicies, undefined, 'no resource policy (so none open to "*")');
  t.equal(p.ClusterConfig.InstanceCount, 3);
  t.equal(p.ClusterConfig.ZoneAwarenessEnabled, true);
  t.equal(p.ClusterConfig.DedicatedMasterCount, 3);
  const devDomain = Object.values(resourcesOf(dev.data, 'AWS::OpenSearchService::Domain'))[0]!.Properties!;
  t.equal(devDomain.ClusterConfig.InstanceCount, 1, 'sized per stage (dev: one node)');
  t.equal(devDomain.VPCOptions.SubnetIds.length, 1);
  t.same(devDomain.EncryptionAtRestOptions.Enabled, true);

  const sgId = refTarget(p.VPCOptions.SecurityGroupIds[0]) ?? JSON.stringify(p.VPCOptions.SecurityGroupIds[0]);
  const groups = resourcesOf(prod.network, 'AWS::EC2::SecurityGroup');
  const domainGroupId = Object.keys(groups).find((id) => sgId.includes(id))!;
  const domainGroup = groups[domainGroupId]!.Properties!;
  const ingress = [
    ...asArray(domainGroup.SecurityGroupIngress),
    ...Object.values(resourcesOf(prod.network, 'AWS::EC2::SecurityGroupIngress')).filter((r) => refTarget(r.Properties!.GroupId) === domainGroupId).map((r) => r.Properties!),
  ];
  t.equal(ingress.length, 1, 'one way into the domain');
  t.equal(ingress[0].FromPort, 443);
  t.match(refTarget(ingress[0].SourceSecurityGroupId), /^SearchSecurityGroup/, 'from the search tasks only');
  t.same(domainGroup.SecurityGroupEgress?.[0]?.CidrIp, '255.255.255.255/32', 'no egress (the placeholder rule CDK writes)');
});

t.test('network: private tasks, endpoints for AWS APIs, only the load balancer is public', async (t) => {
  const endpoints = Object.values(resourcesOf(prod.network, 'AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify(e.Properties!.ServiceName));
  for (const service of ['dynamodb', 's3', 'kms', 'bedrock-runtime', 'ecr.api', 'ecr.dkr', 'logs', 'secretsmanager']) {
    t.ok(endpoints.some((e) => e.includes(`.${service}`)), `VPC endpoint for ${service}`);
  }
  for (const ecsService of Object.values(resourcesOf(prod.services, 'AWS::ECS::Service'))) {
    t.equal(ecsService.Properties!.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, 'DISABLED', 'tasks have no public IP');
  }
  for (const definition of Object.values(resourcesOf(prod.services, 'AWS::ECS::TaskDefinition'))) {
    t.equal(definition.Properties!.ContainerDefinitions[0].ReadonlyRootFilesystem, true, 'read-only root filesystem');
  }
  const groups = resourcesOf(prod.network, 'AWS::EC2::SecurityGroup');
  const openIngress = Object.entries(groups).flatMap(([id, g]) => asArray<{ CidrIp?: string; FromPort: number }>(g.Properties!.SecurityGroupIngress).filter((i) => i.CidrIp === '0.0.0.0/0').map((i) => `${id}:${i.FromPort}`));
  t.same(openIngress.map((x) => x.replace(/[0-9A-F]{8}:/, ':')).sort(), ['LoadBalancerSecurityGroup:443', 'LoadBalancerSecurityGroup:80'], 'only the load balancer accepts the internet (443, and 80 to redirect)');
  for (const service of SERVICE_NAMES) {
    const id = Object.keys(groups).find((g) => g.startsWith(`${service.charAt(0).toUpperCase()}${service.slice(1)}SecurityGroup`))!;
    const ingress = Object.values(resourcesOf(prod.network, 'AWS::EC2::SecurityGroupIngress')).filter((r) => refTarget(r.Properties!.GroupId) === id);
    t.ok(ingress.length > 0 && ingress.every((r) => r.Properties!.SourceSecurityGroupId !== undefined && r.Properties!.FromPort === 8080), `${service}: reachable only from other security groups on 8080`);
  }
  t.ok(Object.values(resourcesOf(prod.network, 'AWS::EC2::FlowLog')).length === 1, 'VPC flow logs');
});

t.test('load balancer: HTTPS only with TLS 1.2+ outside dev, access logs encrypted, alarms topic encrypted', async (t) => {
  const listenerEntries = Object.entries(resourcesOf(prod.services, 'AWS::ElasticLoadBalancingV2::Listener'));
  const listeners = listenerEntries.map(([, l]) => l.Properties!);
  const httpsId = listenerEntries.find(([, l]) => l.Properties!.Port === 443)![0];
  const https = listeners.find((l) => l.Port === 443)!;
  t.equal(https.Protocol, 'HTTPS');
  t.equal(https.SslPolicy, 'ELBSecurityPolicy-TLS13-1-2-2021-06', 'TLS 1.3/1.2 policy');
  t.same(https.Certificates, [{ CertificateArn: STAGES.prod.certificateArn }]);
  const http = listeners.find((l) => l.Port === 80)!;
  t.same(http.DefaultActions.map((a: { Type: string }) => a.Type), ['redirect'], 'port 80 only redirects to HTTPS');
  t.ok(Object.values(resourcesOf(prod.services, 'AWS::ElasticLoadBalancingV2::ListenerRule')).every((r) => refTarget(r.Properties!.ListenerArn) === httpsId), 'every route is on the HTTPS listener');
  const alb = Object.values(resourcesOf(prod.services, 'AWS::ElasticLoadBalancingV2::LoadBalancer'))[0]!.Properties!;
  const attribute = (key: string) => alb.LoadBalancerAttributes.find((a: { Key: string }) => a.Key === key)?.Value;
  t.equal(attribute('routing.http.drop_invalid_header_fields.enabled'), 'true');
  t.equal(attribute('access_logs.s3.enabled'), 'true');

  const bucket = resourcesOf(prod.data, 'AWS::S3::Bucket').PaiAccessLogsBucket!;
  t.equal(bucket.DeletionPolicy, 'Retain');
  t.same(bucket.Properties!.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault, { SSEAlgorithm: 'AES256' }, 'SSE-S3 (the only kind ALB logs support)');
  t.same(bucket.Properties!.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
  prod.data.hasResourceProperties('AWS::S3::BucketPolicy', {
    PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
  });
  prod.observability.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  prod.observability.hasResourceProperties('AWS::SNS::TopicPolicy', {
    PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
  });

  const devListeners = Object.values(resourcesOf(dev.services, 'AWS::ElasticLoadBalancingV2::Listener')).map((l) => l.Properties!);
  t.same(devListeners.map((l) => [l.Port, l.Protocol]), [[80, 'HTTP']], 'dev without a certificate: plain HTTP only (documented)');
});

t.test('stateful resources: all retained, all with pinned logical ids, and nothing stateful outside the data stack', async (t) => {
  const pinned = ['PaiStorageKey', 'PaiUserKeyWrappingKey', ...TABLE_SPECS.map((s) => s.logicalId), 'PaiSearchDomain', 'PaiAdminApiKeySecret', 'PaiInternalTokenSecret', 'PaiAccessLogsBucket'];
  const statefulTypes = ['AWS::KMS::Key', 'AWS::DynamoDB::Table', 'AWS::OpenSearchService::Domain', 'AWS::SecretsManager::Secret', 'AWS::S3::Bucket'];
  for (const s of [prod, dev]) {
    const data = s.data.toJSON().Resources as Record<string, { Type: string; DeletionPolicy?: string }>;
    const stateful = Object.entries(data).filter(([, r]) => statefulTypes.includes(r.Type));
    t.same(stateful.map(([id]) => id).sort(), [...pinned].sort(), `${s.stage.stageName}: every stateful resource has its pinned id`);
    for (const [id, r] of stateful) t.equal(r.DeletionPolicy, 'Retain', `${s.stage.stageName}: ${id} retained`);
    for (const template of [s.network, s.services, s.observability]) {
      for (const type of statefulTypes) t.same(Object.keys(template.findResources(type)), [], `${type} only in the data stack`);
    }
  }
  t.equal(prod.stage.data.terminationProtection, true, 'prod data stack: termination protection');
  t.equal(dev.stage.data.terminationProtection, false);
});
