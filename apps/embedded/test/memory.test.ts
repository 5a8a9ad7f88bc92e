import t from 'tap';
import { request } from 'undici';
import { startPai, parseSse } from './helper.js';

t.test('relevant memories reach the prompt as data and come back in memories_used', async (t) => {
  const { app, url, standIn, newUser } = await startPai(t, { listen: true });
  const u = await newUser();
  const other = await newUser('other');
  for (const [content, category] of [['Takes coffee black, no sugar', 'preference'], ['Sister Eva lives in Porto', 'person'], ['Allergic to peanuts', 'fact']]) {
    await app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content, category } });
  }
  await app.inject({ method: 'POST', url: '/v1/memories', headers: other.headers, payload: { content: 'Takes coffee with oat milk' } });

  const res = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'How do I like my coffee?' } });
  t.equal(res.statusCode, 200);
  const used = res.json().memories_used;
  t.equal(used.length, 1);
  t.match(used[0], { id: /^mem_/, content: 'Takes coffee black, no sugar', score: Number });
  const system = standIn.requests.at(-1)!.body!.messages![0]!.content;
  t.match(system, /<memories>[\s\S]*Takes coffee black, no sugar[\s\S]*<\/memories>/);
  t.notMatch(system, /oat milk/, "another user's memories never reach the prompt");
  t.notMatch(system, /Porto|peanuts/, 'only relevant memories');

  const off = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'How do I like my coffee?', memory: 'off' } });
  t.same(off.json().memories_used, []);
  t.notMatch(standIn.requests.at(-1)!.body!.messages![0]!.content, /<memories>/, 'memory: off retrieves nothing');

  const stream = await request(`${url}/v1/chat`, {
    method: 'POST', headers: { ...u.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'Where does my sister live?', stream: true }),
  });
  const events = parseSse(await stream.body.text());
  t.same(events.slice(0, 2).map((e) => e.event), ['start', 'context']);
  t.match(events[1]!.data.memories_used, [{ content: 'Sister Eva lives in Porto' }]);
  t.match(events.at(-1)!.data.memories_used, [{ content: 'Sister Eva lives in Porto' }]);
});
