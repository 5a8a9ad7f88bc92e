import t from 'tap';
import { newId, isId, ulid, newApiKeySecret, hashApiKey } from '@pai/ids';

t.test('ids are prefixed, well-formed and strictly increasing within a process', async (t) => {
  const ids = Array.from({ length: 2000 }, () => newId('msg'));
  for (const id of ids) t.ok(isId(id, 'msg'), id);
  const sorted = [...ids].sort();
  t.same(sorted, ids, 'creation order equals sort order');
  t.equal(new Set(ids).size, ids.length, 'no duplicates');
});

t.test('ulid keeps monotonic order when the clock goes backwards', async (t) => {
  const a = ulid(2_000_000_000_000);
  const b = ulid(1_000_000_000_000);
  t.ok(b > a);
});

t.test('isId rejects other shapes and prefixes', async (t) => {
  t.notOk(isId('conv_123'));
  t.notOk(isId(newId('conv'), 'msg'));
  t.notOk(isId('../../etc/passwd'));
});

t.test('api key secrets have 256 bits and hash deterministically', async (t) => {
  const k = newApiKeySecret();
  t.match(k, /^pai_[A-Za-z0-9_-]{43}$/);
  t.equal(hashApiKey(k), hashApiKey(k));
  t.not(hashApiKey(k), hashApiKey(newApiKeySecret()));
  t.not(hashApiKey(k).includes(k.slice(4)), true);
});
