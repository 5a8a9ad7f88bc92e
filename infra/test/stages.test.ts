import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import t from 'tap';
import { FRONT_DOOR_IDLE_TIMEOUT_SECONDS, HEALTH_CHECK_PATH, SERVICE_NAMES, type ServiceName } from '../../packages/contracts/src/routing.js';
import { STAGES, validateStage, type StageConfig } from '../config/environments.js';
import { PAI_METRICS } from '../lib/constructs/telemetry.js';
import { asArray, refTarget, resourcesOf, synthStage } from './helpers/synth.js';

const INFRA = new URL('../', import.meta.url);

interface DockerImageSource {
  directory: string;
  dockerFile: string;
  dockerBuildTarget: string;
  dockerBuildArgs: Record<string, string>;
}

/** The Docker image assets of a stage's services stack (what `cdk deploy` would build and push). */
function dockerImages(s: ReturnType<typeof synthStage>): DockerImageSource[] {
  const manifest = JSON.parse(readFileSync(join(s.assembly.directory, `${s.stage.services.artifactId}.assets.json`), 'utf8'));
  return Object.values(manifest.dockerImages ?? {}).map((image) => (image as { source: DockerImageSource }).source);
}

t.test('bin/pai.ts synthesizes every stage offline: no credentials, no Docker, no context lookups', async (t) => {
  const outdir = mkdtempSync(join(tmpdir(), 'pai-cdk-app-'));
  t.teardown(() => rmSync(outdir, { recursive: true, force: true }));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, CDK_OUTDIR: outdir, CDK_DOCKER: '/bin/false' };
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bin/pai.ts'], { cwd: INFRA, env, encoding: 'utf8' });
  t.equal(run.status, 0, `cdk app exits 0 ${run.stderr}`);
  t.comment(`all stages synthesized in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
  t.equal(manifest.missing, undefined, 'no context lookup was needed');
  for (const config of Object.values(STAGES)) {
    const id = config.name.charAt(0).toUpperCase() + config.name.slice(1);
    const stageDir = join(outdir, `assembly-${id}`);
    const stageManifest = JSON.parse(readFileSync(join(stageDir, 'manifest.json'), 'utf8'));
    const stacks = Object.entries(stageManifest.artifacts as Record<string, { type: string; environment: string; displayName: string }>)
      .filter(([, a]) => a.type === 'aws:cloudformation:stack');
    t.same(stacks.map(([, a]) => a.displayName).sort(), ['Data', 'Network', 'Observability', 'Services'].map((s) => `${id}/${s}`).sort(), `${id}: four stacks`);
    for (const [, artifact] of stacks) t.equal(artifact.environment, `aws://${config.account}/${config.region}`, `${id}: its own account and region`);
    t.ok(readdirSync(stageDir).some((f) => f.endsWith('.template.json')));
  }
  t.equal(new Set(Object.values(STAGES).map((s) => s.account)).size, 3, 'one account per stage');

  const only = spawnSync(process.execPath, ['--import', 'tsx', 'bin/pai.ts'], { cwd: INFRA, env: { ...env, CDK_CONTEXT_JSON: JSON.stringify({ stage: 'nope' }) }, encoding: 'utf8' });
  t.not(only.status, 0, '-c stage= rejects an unknown stage');
  t.match(only.stderr, /expected one of dev, staging, prod/);
});

t.test('stage configuration is validated before synthesis', async (t) => {
  const with_ = (patch: Partial<StageConfig>): StageConfig => ({ ...STAGES.prod, ...patch });
  for (const config of Object.values(STAGES)) t.doesNotThrow(() => validateStage(config), config.name);
  const { certificateArn: _omitted, ...withoutCertificate } = STAGES.prod;
  t.throws(() => validateStage(withoutCertificate), /certificateArn is required outside dev/);
  t.throws(() => validateStage(with_({ account: '1234' })), /12-digit/);
  t.throws(() => validateStage(with_({ availabilityZones: ['us-east-1a'] })), /at least 2/);
  t.throws(() => validateStage(with_({ availabilityZones: ['eu-west-1a', 'eu-west-1b'] })), /must be in us-east-1/);
  t.throws(() => validateStage(with_({ shutdownGraceSeconds: 110 })), /shutdownGraceSeconds/);
  t.throws(() => validateStage(with_({ opensearch: { ...STAGES.prod.opensearch, dataNodes: 4 } })), /multiple of opensearch.zones/);
});

for (const config of Object.values(STAGES)) {
  t.test(`${config.name}: services, load balancer, scaling and shutdown`, async (t) => {
    const s = synthStage(config);
    const services = s.services;

    const alb = Object.values(resourcesOf(services, 'AWS::ElasticLoadBalancingV2::LoadBalancer'))[0]!.Properties!;
    t.equal(alb.Scheme, 'internet-facing');
    t.same(alb.LoadBalancerAttributes.find((a: { Key: string }) => a.Key === 'idle_timeout.timeout_seconds').Value, String(FRONT_DOOR_IDLE_TIMEOUT_SECONDS), 'idle timeout long enough for SSE streams');
    t.ok(FRONT_DOOR_IDLE_TIMEOUT_SECONDS >= 600, 'at least the default maximum stream duration (LLM_TOTAL_TIMEOUT_MS)');

    const targetGroups = resourcesOf(services, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    t.equal(Object.keys(targetGroups).length, 3);
    for (const tg of Object.values(targetGroups)) {
      const p = tg.Properties!;
      t.equal(p.HealthCheckPath, HEALTH_CHECK_PATH, 'health check on /healthz');
      t.same(p.Matcher, { HttpCode: '200' });
      t.equal(p.TargetType, 'ip');
      t.same(
        p.TargetGroupAttributes.find((a: { Key: string }) => a.Key === 'deregistration_delay.timeout_seconds'),
        { Key: 'deregistration_delay.timeout_seconds', Value: String(config.shutdownGraceSeconds) },
        'deregistration delay = PAI_SHUTDOWN_GRACE_MS',
      );
      t.same(p.TargetGroupAttributes.find((a: { Key: string }) => a.Key === 'load_balancing.algorithm.type').Value, 'least_outstanding_requests');
    }

    const taskDefinitions = resourcesOf(services, 'AWS::ECS::TaskDefinition');
    const byService = new Map<ServiceName, { definitionId: string; env: Record<string, string>; app: any; definition: any }>();
    for (const [definitionId, definition] of Object.entries(taskDefinitions)) {
      const app = definition.Properties!.ContainerDefinitions[0];
      const env = Object.fromEntries(asArray<{ Name: string; Value: unknown }>(app.Environment).map((e) => [e.Name, typeof e.Value === 'string' ? e.Value : JSON.stringify(e.Value)]));
      byService.set(app.Name, { definitionId, env, app, definition: definition.Properties });
    }
    t.same([...byService.keys()].sort(), [...SERVICE_NAMES].sort(), 'one task definition per service, container named after it');
    for (const [service, { env, app, definition }] of byService) {
      const sizing = config.services[service];
      t.equal(definition.Cpu, String(sizing.cpu), `${service}: cpu`);
      t.equal(definition.Memory, String(sizing.memoryMiB), `${service}: memory`);
      t.same(app.PortMappings, [{ ContainerPort: 8080, Name: 'http', AppProtocol: 'http', Protocol: 'tcp' }]);
      t.equal(env.PORT, '8080');
      t.equal(env.HOST, '0.0.0.0');
      t.equal(env.PAI_SHUTDOWN_GRACE_MS, String(config.shutdownGraceSeconds * 1000), `${service}: PAI_SHUTDOWN_GRACE_MS`);
      t.equal(app.StopTimeout, config.shutdownGraceSeconds + 15, `${service}: SIGKILL only after the grace`);
      t.ok(app.StopTimeout <= 120, 'within Fargate’s maximum stop timeout');
      t.equal(env.AWS_REGION, config.region);
      t.equal(env.LOG_LEVEL, config.logLevel);
      t.match(app.HealthCheck.Command.join(' '), HEALTH_CHECK_PATH, `${service}: container health check on /healthz`);
      t.ok(definition.ContainerDefinitions.some((c: { Name: string; Essential: boolean }) => c.Name === 'metrics-collector' && c.Essential === false), `${service}: metrics collector sidecar (not essential)`);
      const collector = definition.ContainerDefinitions.find((c: { Name: string }) => c.Name === 'metrics-collector');
      t.match(JSON.stringify(collector.Environment), `127.0.0.1:8080`, `${service}: the collector scrapes the service's /metrics`);
    }
    const prefix = `pai-${config.name}-`;
    const agent = byService.get('agent')!.env;
    t.match(agent, { LLM_PROVIDER: 'bedrock', LLM_MODEL: config.models.chatModels[0], STORE_BACKEND: 'dynamodb', DYNAMODB_TABLE_PREFIX: prefix, MEMORY_SERVICE_URL: 'http://memory:8080', SEARCH_SERVICE_URL: 'http://search:8080' }, 'agent: SPEC configuration');
    const memory = byService.get('memory')!.env;
    t.match(memory, { STORE_BACKEND: 'dynamodb', DYNAMODB_TABLE_PREFIX: prefix, KEY_PROVIDER: 'kms', SEARCH_SERVICE_URL: 'http://search:8080' }, 'memory: SPEC configuration');
    t.match(memory.KMS_KEY_ID, /PaiUserKeyWrappingKey/, 'memory: KMS_KEY_ID is the user-key wrapping key');
    const search = byService.get('search')!.env;
    t.match(search, { SEARCH_BACKEND: 'opensearch', OPENSEARCH_INDEX_PREFIX: prefix, EMBEDDINGS_PROVIDER: 'bedrock', EMBEDDINGS_MODEL: config.models.embeddingsModel, EMBEDDINGS_DIMENSIONS: String(config.models.embeddingsDimensions), MEMORY_SERVICE_URL: 'http://memory:8080' }, 'search: SPEC configuration');
    t.match(search.OPENSEARCH_URL, /https:\/\/.*PaiSearchDomain.*DomainEndpoint/, 'search: OPENSEARCH_URL is the domain over HTTPS');

    const ecsServices = resourcesOf(services, 'AWS::ECS::Service');
    for (const ecsService of Object.values(ecsServices)) {
      const p = ecsService.Properties!;
      const name = [...byService].find(([, v]) => v.definitionId === refTarget(p.TaskDefinition))![0];
      t.equal(p.LaunchType, 'FARGATE');
      t.same(p.DeploymentConfiguration.DeploymentCircuitBreaker, { Enable: true, Rollback: true }, `${name}: failed deployments roll back`);
      t.equal(p.DeploymentConfiguration.MinimumHealthyPercent, 100, `${name}: no capacity lost while deploying`);
      t.equal(p.ServiceConnectConfiguration.Enabled, true, `${name}: in the Service Connect namespace`);
      const published = asArray<{ ClientAliases: { DnsName: string; Port: number }[] }>(p.ServiceConnectConfiguration.Services).flatMap((x) => x.ClientAliases);
      t.same(published, name === 'agent' ? [] : [{ DnsName: name, Port: 8080 }], `${name}: reachable as http://${name}:8080 by the others`);
    }

    // Autoscaling: min/max per stage, target tracking on CPU and on requests per task.
    const targets = resourcesOf(services, 'AWS::ApplicationAutoScaling::ScalableTarget');
    t.equal(Object.keys(targets).length, 3);
    for (const service of SERVICE_NAMES) {
      const sizing = config.services[service];
      const [targetId, target] = Object.entries(targets).find(([id]) => id.toLowerCase().startsWith(service))!;
      t.equal(target.Properties!.MinCapacity, sizing.minTasks, `${service}: min tasks`);
      t.equal(target.Properties!.MaxCapacity, sizing.maxTasks, `${service}: max tasks`);
      const policies = Object.values(resourcesOf(services, 'AWS::ApplicationAutoScaling::ScalingPolicy')).filter((p) => refTarget(p.Properties!.ScalingTargetId) === targetId);
      const byMetric = Object.fromEntries(policies.map((p) => [p.Properties!.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType, p.Properties!.TargetTrackingScalingPolicyConfiguration.TargetValue]));
      t.same(byMetric, { ECSServiceAverageCPUUtilization: sizing.cpuTargetPercent, ALBRequestCountPerTarget: sizing.requestsPerTaskPerMinute }, `${service}: scales on CPU and request count`);
    }

    // Images: built from docker/Dockerfile with the service as build argument (staged, not built, at synth).
    const images = dockerImages(s);
    t.same(images.map((i) => i.dockerBuildArgs.SERVICE).sort(), [...SERVICE_NAMES].sort(), 'one image asset per service');
    for (const image of images) {
      t.equal(image.dockerFile, 'docker/Dockerfile');
      t.equal(image.dockerBuildTarget, 'runtime');
      const staged = readdirSync(join(s.assembly.directory, image.directory));
      t.ok(staged.includes('pnpm-lock.yaml') && staged.includes('docker'), 'the repository is staged as the build context');
      t.notOk(staged.includes('node_modules'), 'without node_modules (docker/Dockerfile.dockerignore)');
    }
  });
}

t.test('an ECR image source (built by CI) replaces the Docker assets', async (t) => {
  const s = synthStage({ ...STAGES.dev, image: { kind: 'ecr', repositoryName: 'pai', tag: 'v1.2.3' } });
  const images = Object.values(resourcesOf(s.services, 'AWS::ECS::TaskDefinition')).map((d) => JSON.stringify(d.Properties!.ContainerDefinitions[0].Image));
  for (const service of SERVICE_NAMES) t.ok(images.some((i) => i.includes(`/pai:${service}-v1.2.3`)), `${service} from pai:${service}-v1.2.3`);
  t.equal(dockerImages(s).length, 0, 'no Docker build');
});

t.test('observability: dashboard with latency percentiles, 5xx, TTFT, tokens, cost; alarms notify the topic', async (t) => {
  const s = synthStage(STAGES.prod);
  const dashboards = resourcesOf(s.observability, 'AWS::CloudWatch::Dashboard');
  t.equal(Object.keys(dashboards).length, 1);
  const body = JSON.stringify(Object.values(dashboards)[0]!.Properties!.DashboardBody);
  for (const needle of ['TargetResponseTime', '"stat\\":\\"p50', '"stat\\":\\"p95', '"stat\\":\\"p99', 'HTTPCode_Target_5XX_Count', 'HTTPCode_ELB_5XX_Count',
    PAI_METRICS.modelTtft, PAI_METRICS.modelTokens, PAI_METRICS.modelCost, PAI_METRICS.errors, 'PAI/prod', 'JVMMemoryPressure', 'ReadThrottleEvents']) {
    t.match(body, needle, `dashboard shows ${needle}`);
  }
  const topicId = Object.keys(resourcesOf(s.observability, 'AWS::SNS::Topic'))[0]!;
  const alarms = resourcesOf(s.observability, 'AWS::CloudWatch::Alarm');
  t.ok(Object.keys(alarms).length >= 10, `${Object.keys(alarms).length} alarms`);
  for (const [id, alarm] of Object.entries(alarms)) {
    t.same(alarm.Properties!.AlarmActions, [{ Ref: topicId }], `${id} notifies the topic`);
    t.ok(asArray(alarm.Properties!.Metrics).length <= 10, `${id}: within metric math limits`);
  }
  const alarmText = JSON.stringify(alarms);
  for (const metric of ['HTTPCode_Target_5XX_Count', 'TargetResponseTime', 'HealthyHostCount', PAI_METRICS.modelTtft, PAI_METRICS.modelCircuitState, 'ClusterStatus.red', 'FreeStorageSpace', 'ReadThrottleEvents']) {
    t.match(alarmText, metric, `an alarm watches ${metric}`);
  }
  s.observability.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: STAGES.prod.alarmEmail });
  s.services.hasResourceProperties('AWS::IAM::Policy', {
    PolicyDocument: { Statement: [Match.objectLike({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'] })] },
  });
});
