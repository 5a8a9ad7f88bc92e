import t from 'tap';
import { startPai } from './helper.js';

t.test('one merged OpenAPI document describes every route of all three services', async (t) => {
  const { app } = await startPai(t);
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  t.equal(res.statusCode, 200);
  const spec = res.json();
  t.equal(spec.openapi, '3.1.0');
  const expected = [
    'post /v1/chat', 'post /v1/users', 'get /v1/users', 'get /v1/users/me', 'get /v1/users/{id}',
    'post /v1/users/{id}/api-keys', 'get /v1/users/{id}/api-keys', 'delete /v1/api-keys/{id}',
    'post /v1/conversations', 'get /v1/conversations', 'get /v1/conversations/{id}', 'delete /v1/conversations/{id}',
    'get /healthz', 'get /readyz',
  ];
  const operations = Object.entries(spec.paths as Record<string, Record<string, any>>)
    .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method} ${path}`, op })));
  for (const key of expected) t.ok(operations.some((o) => o.key === key), `documents ${key}`);

  for (const { key, op } of operations) {
    t.type(op.summary, 'string', `${key} has a summary`);
    t.ok(op.tags?.length, `${key} is tagged`);
    if (key.includes('/v1/')) {
      t.ok(op.security?.length, `${key} names its auth`);
      const errors = Object.keys(op.responses).filter((s) => Number(s) >= 400);
      t.ok(errors.includes('401'), `${key} documents 401`);
      for (const status of errors) t.type(op.responses[status].description, 'string', `${key} ${status} is described`);
    }
  }
  t.ok(spec.components.securitySchemes.bearer, 'bearer auth is described');
  const chat = spec.paths['/v1/chat'].post;
  t.match(chat.description, /event: delta/, 'the SSE protocol is described');
  t.ok(['502', '503', '504'].every((s) => chat.responses[s]), 'model failures are documented');

  const docs = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(docs.statusCode, 200);
});
