import {
  FRONT_DOOR_IDLE_TIMEOUT_SECONDS,
  ROUTES,
  SERVICE_NAMES,
  SERVICE_PORT,
  notFoundBody,
  pathRegex,
  stripPrefixRewrite,
  validateRoutes,
  type RouteRule,
} from '../../../packages/contracts/src/routing.js';

export const EDGE_CONFIG_PATH = 'docker/edge/nginx.conf';
export const EDGE_PORT = 8080;

/**
 * The local edge (nginx in docker/compose.yaml) generated from the routing table, reproducing the ALB:
 * one regex location per rule in priority order (nginx tries regex locations in the order written and
 * takes the first match, like ALB priorities; the only prefix location is the catch-all `/`), the same
 * prefix rewrite regex, the same idle timeout, and the same 404 body for anything unmatched.
 */
export function renderEdgeNginxConfig(routes: readonly RouteRule[] = ROUTES): string {
  validateRoutes(routes);
  const sorted = [...routes].sort((a, b) => a.priority - b.priority);
  const timeout = `${FRONT_DOOR_IDLE_TIMEOUT_SECONDS}s`;
  const lines: string[] = [
    '# GENERATED from packages/contracts/src/routing.ts by infra/bin/generate-local-config.ts — do not edit.',
    '# The ALB listener rules (infra/lib/constructs/api-load-balancer.ts) are generated from the same table;',
    '# infra/test/routing.test.ts fails when this file and the table disagree.',
    'worker_processes auto;',
    'error_log /dev/stderr warn;',
    '',
    'events {',
    '  worker_connections 4096;',
    '}',
    '',
    'http {',
    '  server_tokens off;',
    "  log_format pai escape=json '{\"time\":\"$time_iso8601\",\"request_id\":\"$pai_request_id\",\"method\":\"$request_method\",\"path\":\"$uri\",\"status\":$status,\"upstream\":\"$upstream_addr\",\"duration_s\":$request_time}';",
    '  access_log /dev/stdout pai;',
    '  # The services enforce PAI_BODY_LIMIT_BYTES themselves (413 in the SPEC error shape), as behind the ALB.',
    '  client_max_body_size 0;',
    `  keepalive_timeout ${timeout};`,
    `  client_body_timeout ${timeout};`,
    `  send_timeout ${timeout};`,
    '',
    '  # x-request-id: kept when the client sends one, generated here otherwise, forwarded to the service.',
    '  map $http_x_request_id $pai_request_id {',
    '    default $http_x_request_id;',
    "    '' $request_id;",
    '  }',
    '',
  ];
  for (const service of SERVICE_NAMES) {
    lines.push(`  upstream ${service} {`, `    server ${service}:${SERVICE_PORT};`, '    keepalive 32;', '  }', '');
  }
  lines.push(
    '  server {',
    `    listen ${EDGE_PORT};`,
    '',
    '    proxy_http_version 1.1;',
    '    proxy_set_header Connection "";',
    '    proxy_set_header Host $host;',
    '    proxy_set_header X-Request-Id $pai_request_id;',
    '    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    proxy_set_header X-Forwarded-Proto $scheme;',
    '    # Server-Sent Events: pass every event on as it is written; long streams stay open.',
    '    proxy_buffering off;',
    '    proxy_request_buffering off;',
    `    proxy_read_timeout ${timeout};`,
    `    proxy_send_timeout ${timeout};`,
    '',
  );
  for (const route of sorted) {
    lines.push(`    # priority ${route.priority}: ${route.paths.join(' ')} → ${route.service} (${route.description})`);
    lines.push(`    location ~ ${pathRegex(route)} {`);
    const rewrite = stripPrefixRewrite(route);
    if (rewrite !== undefined) lines.push(`      rewrite ${rewrite.regex} ${rewrite.replace} break;`);
    lines.push(`      proxy_pass http://${route.service};`, '    }', '');
  }
  lines.push(
    '    # Everything else, /metrics and /internal/* included: the front door answers 404 itself.',
    '    location / {',
    '      default_type application/json;',
    `      return 404 '${notFoundBody('$request_id')}';`,
    '    }',
    '  }',
    '}',
    '',
  );
  return lines.join('\n');
}
