import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  FRONT_DOOR_IDLE_TIMEOUT_SECONDS,
  HEALTH_CHECK_PATH,
  ROUTES,
  SERVICE_NAMES,
  albPathPatterns,
  albPatternMatches,
  matchRoute,
  notFoundBody,
  pathRegex,
  stripPrefixRewrite,
  validateRoutes,
  type RouteRule,
  type ServiceName,
} from '../../packages/contracts/src/routing.js';
import { STAGES } from '../config/environments.js';
import { EDGE_CONFIG_PATH, renderEdgeNginxConfig } from '../lib/local/edge-nginx-config.js';
import { asArray, refTarget, resourcesOf, synthStage } from './helpers/synth.js';

/**
 * The routing table is the single source of both front doors. These tests prove the ALB listener
 * rules (synthesized) and the edge's nginx config (committed file) each equal the table, and that both,
 * simulated with their own matching semantics, send every sample path to the same place.
 */

const committedEdgeConfig = readFileSync(new URL(`../../${EDGE_CONFIG_PATH}`, import.meta.url), 'utf8');

/** Paths to route: every table path, its neighbours, and known non-routes. */
const SAMPLE_PATHS = [
  ...ROUTES.flatMap((r) => r.paths.flatMap((p) => {
    const base = p.endsWith('/**') ? p.slice(0, -3) : p;
    return [base, `${base}/`, `${base}/x`, `${base}/x/y?z=1`, `${base}x`, `${base}?q=1`, base.toUpperCase(), `/prefix${base}`];
  })),
  '/', '/v1', '/v1/', '/metrics', '/internal/v1/turns', '/internal/v1/auth/verify', '/docs', '/openapi.json',
  '/services/agent/metrics', '/services/memory/internal/v1/turns', '/services/search', '/services/agent/docsx',
  '/v1/chat/completions/x', '/v1/usage/x', '/v1/export/x', '/v1/search/x',
];

t.test('the table covers SPEC "Services and routing" and passes its own invariants', async (t) => {
  t.doesNotThrow(() => validateRoutes());
  const spec: Record<ServiceName, string[]> = {
    agent: ['/v1/chat', '/v1/chat/completions', '/v1/agents/**', '/v1/usage'],
    memory: ['/v1/users/**', '/v1/api-keys/**', '/v1/conversations/**', '/v1/memories/**', '/v1/export', '/v1/import'],
    search: ['/v1/search', '/v1/documents/**'],
  };
  for (const service of SERVICE_NAMES) {
    const apiPaths = ROUTES.filter((r) => r.service === service && r.stripPrefix === undefined).flatMap((r) => r.paths).filter((p) => p.startsWith('/v1/'));
    t.same(apiPaths.sort(), [...spec[service]].sort(), `${service} owns exactly SPEC's routes`);
    const ops = ROUTES.find((r) => r.service === service && r.stripPrefix === `/services/${service}`);
    t.ok(ops, `${service} has operational routes`);
    t.same(matchRoute(`/services/${service}/healthz`), { rule: ops, forwardedPath: HEALTH_CHECK_PATH }, `${service} /healthz through the front door`);
  }
  t.equal(matchRoute('/metrics'), undefined, '/metrics is never public');
  t.equal(matchRoute('/services/memory/metrics'), undefined, 'not even per service');
  t.equal(matchRoute('/internal/v1/turns'), undefined, 'internal routes are never public');
  t.equal(matchRoute('/v1/agents')?.rule.service, 'agent', '/** includes the path itself');
  t.equal(matchRoute('/v1/agentsx'), undefined, '/** does not match a longer name');
  t.equal(matchRoute('/v1/chat/completions?stream=true')?.rule.priority, 11, 'query strings are ignored');

  const bad = (rule: Partial<RouteRule>) => () => validateRoutes([{ priority: 1, service: 'agent', paths: ['/a'], description: '', ...rule } as RouteRule]);
  t.throws(bad({ paths: ['/a', '/b', '/c', '/d', '/e/**'] }), /1\.\.5 path patterns/, 'at most 5 ALB conditions per rule');
  t.throws(bad({ paths: ['/a*b'] }), /unsupported path/);
  t.throws(bad({ stripPrefix: '/x' }), /stripped prefix/);
  t.throws(() => validateRoutes([...ROUTES, { ...ROUTES[0]! }]), /duplicate priority/);
});

t.test('ALB listener rules are generated from the table (every stage)', async (t) => {
  for (const config of [STAGES.dev, STAGES.prod]) {
    const s = synthStage(config);
    const template = s.services;

    // Which service a target group belongs to: ECS service → task definition → container name.
    const serviceOfTargetGroup: Record<string, ServiceName> = {};
    const taskDefinitions = resourcesOf(template, 'AWS::ECS::TaskDefinition');
    for (const ecsService of Object.values(resourcesOf(template, 'AWS::ECS::Service'))) {
      const container = taskDefinitions[refTarget(ecsService.Properties!.TaskDefinition)!]!.Properties!.ContainerDefinitions[0].Name as ServiceName;
      for (const lb of ecsService.Properties!.LoadBalancers) serviceOfTargetGroup[refTarget(lb.TargetGroupArn)!] = container;
    }
    t.same(Object.values(serviceOfTargetGroup).sort(), [...SERVICE_NAMES].sort(), `${config.name}: one target group per service`);

    const listeners = resourcesOf(template, 'AWS::ElasticLoadBalancingV2::Listener');
    const routed = Object.entries(listeners).filter(([, l]) => l.Properties!.Port === (config.certificateArn ? 443 : 80));
    t.equal(routed.length, 1, `${config.name}: one listener carries the routes`);
    const [listenerId, listener] = routed[0]!;
    t.same(listener.Properties!.DefaultActions, [{
      Type: 'fixed-response',
      FixedResponseConfig: { StatusCode: '404', ContentType: 'application/json', MessageBody: notFoundBody('') },
    }], `${config.name}: unmatched paths get the front door's 404`);

    const rules = Object.values(resourcesOf(template, 'AWS::ElasticLoadBalancingV2::ListenerRule'))
      .map((r) => r.Properties!)
      .sort((a, b) => a.Priority - b.Priority);
    t.equal(rules.length, ROUTES.length, `${config.name}: one listener rule per table entry`);
    const expected = [...ROUTES].sort((a, b) => a.priority - b.priority);
    rules.forEach((rule, i) => {
      const route = expected[i]!;
      t.equal(refTarget(rule.ListenerArn), listenerId);
      t.equal(rule.Priority, route.priority);
      t.same(rule.Conditions, [{ Field: 'path-pattern', PathPatternConfig: { Values: route.paths.flatMap(albPathPatterns) } }]);
      t.equal(rule.Actions.length, 1);
      t.equal(rule.Actions[0].Type, 'forward');
      t.equal(serviceOfTargetGroup[refTarget(rule.Actions[0].TargetGroupArn)!], route.service, `priority ${route.priority} → ${route.service}`);
      const rewrite = stripPrefixRewrite(route);
      t.same(rule.Transforms, rewrite && [{ Type: 'url-rewrite', UrlRewriteConfig: { Rewrites: [{ Regex: rewrite.regex, Replace: rewrite.replace }] } }]);
    });

    // Simulate the ALB on the synthesized rules and compare with the table's own matcher.
    for (const path of SAMPLE_PATHS) {
      const pathOnly = path.split('?')[0]!;
      const hit = rules.find((r) => asArray<string>(r.Conditions[0].PathPatternConfig.Values).some((p) => albPatternMatches(p, pathOnly)));
      const expectedMatch = matchRoute(path);
      const albService = hit ? serviceOfTargetGroup[refTarget(hit.Actions[0].TargetGroupArn)!] : undefined;
      let albPath = pathOnly;
      for (const rw of hit?.Transforms?.[0]?.UrlRewriteConfig.Rewrites ?? []) albPath = albPath.replace(new RegExp(rw.Regex), rw.Replace);
      t.same(
        hit ? { service: albService, path: albPath } : undefined,
        expectedMatch && { service: expectedMatch.rule.service, path: expectedMatch.forwardedPath },
        `${config.name} ALB: ${path}`,
      );
    }
    const alb = Object.values(resourcesOf(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer'))[0]!;
    t.same(
      alb.Properties!.LoadBalancerAttributes.find((a: { Key: string }) => a.Key === 'idle_timeout.timeout_seconds'),
      { Key: 'idle_timeout.timeout_seconds', Value: String(FRONT_DOOR_IDLE_TIMEOUT_SECONDS) },
      `${config.name}: ALB idle timeout = the front door's (SSE)`,
    );
  }
});

interface EdgeLocation {
  regex: string;
  rewrite?: { regex: string; replace: string };
  upstream: string;
}

/** The regex locations of the committed nginx config, in file order (nginx's evaluation order). */
function parseEdgeLocations(config: string): EdgeLocation[] {
  const locations: EdgeLocation[] = [];
  const pattern = /location ~ (\S+) \{\n(?:\s+rewrite (\S+) (\S+) break;\n)?\s+proxy_pass http:\/\/(\w+);\n\s+\}/g;
  for (const m of config.matchAll(pattern)) {
    locations.push({ regex: m[1]!, ...(m[2] ? { rewrite: { regex: m[2], replace: m[3]! } } : {}), upstream: m[4]! });
  }
  return locations;
}

t.test('the committed edge config is exactly the generated one, and routes like the ALB', async (t) => {
  t.equal(committedEdgeConfig, renderEdgeNginxConfig(), `${EDGE_CONFIG_PATH} is up to date (regenerate: node --import tsx infra/bin/generate-local-config.ts)`);

  const locations = parseEdgeLocations(committedEdgeConfig);
  const expected = [...ROUTES].sort((a, b) => a.priority - b.priority);
  t.equal(locations.length, ROUTES.length, 'one location per table entry');
  t.same(locations, expected.map((r) => ({
    regex: pathRegex(r),
    ...(stripPrefixRewrite(r) ? { rewrite: stripPrefixRewrite(r) } : {}),
    upstream: r.service,
  })), 'locations in priority order with the table regex, rewrite and upstream');
  for (const service of SERVICE_NAMES) t.match(committedEdgeConfig, `server ${service}:8080;`, `upstream ${service}`);
  t.match(committedEdgeConfig, /listen 8080;/);
  t.match(committedEdgeConfig, `proxy_read_timeout ${FRONT_DOOR_IDLE_TIMEOUT_SECONDS}s;`, 'same idle timeout as the ALB');
  t.match(committedEdgeConfig, /proxy_buffering off;/, 'SSE is not buffered');
  t.match(committedEdgeConfig, `return 404 '${notFoundBody('$request_id')}';`, 'same 404 body as the ALB');
  t.equal((committedEdgeConfig.match(/location \//g) ?? []).length, 1, 'the only prefix location is the catch-all');

  // Simulate nginx (first regex location in file order, then the rewrite) against the table.
  for (const path of SAMPLE_PATHS) {
    const pathOnly = path.split('?')[0]!;
    const hit = locations.find((l) => new RegExp(l.regex).test(pathOnly));
    const forwarded = hit?.rewrite ? pathOnly.replace(new RegExp(hit.rewrite.regex), hit.rewrite.replace) : pathOnly;
    const expectedMatch = matchRoute(path);
    t.same(
      hit ? { service: hit.upstream, path: forwarded } : undefined,
      expectedMatch && { service: expectedMatch.rule.service, path: expectedMatch.forwardedPath },
      `edge: ${path}`,
    );
  }
});
