import t from 'tap';
import { startPai, tempDir, until } from './helper.js';

async function memoriesOf(app: Awaited<ReturnType<typeof startPai>>['app'], headers: Record<string, string>, query = '') {
  return (await app.inject({ method: 'GET', url: `/v1/memories?include_superseded=true${query}`, headers })).json().items as Array<Record<string, any>>;
}

const facts = (list: unknown[]) => JSON.stringify({ facts: list });

t.test('after a turn, facts are formed off the critical path, linked to their message; contradictions supersede; duplicates merge', async (t) => {
  const { app, standIn, newUser } = await startPai(t);
  const u = await newUser();
  standIn.enqueue({ kind: 'reply', text: 'Noted!' }, { kind: 'reply', text: facts([{ content: 'Prefers coffee, black', category: 'preference', importance: 0.7 }]) });
  const first = (await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'I drink my coffee black every morning.' } })).json();
  t.equal(first.message, 'Noted!', 'the reply did not wait for formation');
  const formed = await until(() => memoriesOf(app, u.headers), (m) => m.length === 1);
  t.match(formed, [{ content: 'Prefers coffee, black', category: 'preference', importance: 0.7, superseded_by: null }]);
  const conv = (await app.inject({ method: 'GET', url: `/v1/conversations/${first.conversation_id}`, headers: u.headers })).json();
  t.equal(formed[0]!.source_message_id, conv.messages[0].id, 'linked to the user message it came from');

  const extraction = standIn.requests.at(-1)!.body!;
  t.match(extraction.messages![0]!.content, /durable facts about the USER/);
  t.equal(extraction.temperature, 0);

  standIn.enqueue({ kind: 'reply', text: 'Good to know.' }, {
    kind: 'reply', text: facts([{ content: 'Switched from coffee to tea', category: 'preference', importance: 0.8, supersedes: formed[0]!.id }]),
  });
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'I quit coffee, I drink tea now.', conversation_id: first.conversation_id } });
  const after = await until(() => memoriesOf(app, u.headers), (m) => m.length === 2);
  const newer = after.find((m) => m.content === 'Switched from coffee to tea')!;
  const older = after.find((m) => m.content === 'Prefers coffee, black')!;
  t.equal(older.superseded_by, newer.id, 'the old memory is kept, marked superseded');
  t.same((await app.inject({ method: 'GET', url: '/v1/memories', headers: u.headers })).json().items.map((m: { content: string }) => m.content),
    ['Switched from coffee to tea'], 'superseded memories are hidden by default');

  standIn.enqueue({ kind: 'reply', text: 'Right.' }, { kind: 'reply', text: facts([{ content: 'Switched from coffee to tea.', category: 'preference', importance: 0.9 }]) });
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'Yes, tea instead of coffee for me.', conversation_id: first.conversation_id } });
  const merged = await until(() => memoriesOf(app, u.headers), (m) => m.some((x) => x.importance === 0.9));
  t.equal(merged.length, 2, 'a near-duplicate is merged, not added');
  t.equal(merged.find((m) => m.id === newer.id)!.importance, 0.9);
});

t.test('invalid extraction output and a failing model end as an episodic memory: nothing is lost', async (t) => {
  const { app, standIn, newUser } = await startPai(t, { env: { PAI_FORMATION_RETRY_MS: '20', LLM_MAX_RETRIES: '0' } });
  const u = await newUser();
  standIn.enqueue({ kind: 'reply', text: 'Sure.' }, { kind: 'reply', text: 'Here are the facts: the user likes hiking!' });
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'We go hiking in the Alps every summer.' } });
  const episodic = await until(() => memoriesOf(app, u.headers), (m) => m.length === 1);
  t.match(episodic, [{ category: 'episodic', content: /the user said: "We go hiking in the Alps every summer\."/ }]);

  standIn.enqueue({ kind: 'reply', text: 'Ok.' }, { kind: 'fail', status: 500 }, { kind: 'fail', status: 500 }, { kind: 'fail', status: 500 });
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'My daughter starts school in September.' } });
  const all = await until(() => memoriesOf(app, u.headers), (m) => m.length === 2);
  t.match(all[0], { category: 'episodic', content: /daughter starts school/ }, 'after the last attempt');
  const attempts = standIn.requests.filter((r) => r.body?.messages?.[0]?.content.includes('durable facts')).length;
  t.equal(attempts, 4, 'one extraction for the first turn, three attempts for the second');
});

t.test('memory: "off" forms nothing; nothing worth remembering stores nothing', async (t) => {
  const { app, standIn, newUser } = await startPai(t);
  const u = await newUser();
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'My PIN is 1234, forget it.', memory: 'off' } });
  standIn.enqueue({ kind: 'reply', text: 'Hello!' }, { kind: 'reply', text: facts([]) });
  await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'hi' } });
  await until(() => Promise.resolve(standIn.requests.filter((r) => r.body?.messages?.[0]?.content.includes('durable facts')).length), (n) => n === 1);
  await new Promise((r) => setTimeout(r, 100));
  t.same(await memoriesOf(app, u.headers), []);
  const extractions = standIn.requests.filter((r) => r.body?.messages?.[0]?.content.includes('durable facts'));
  t.equal(extractions.length, 1, 'no extraction for the memory: off turn');
  t.notOk(JSON.stringify(extractions).includes('1234'));
});

t.test('pending formation survives a restart', async (t) => {
  const dataDir = tempDir(t);
  const first = await startPai(t, { dataDir });
  const u = await first.newUser();
  first.standIn.enqueue({ kind: 'reply', text: 'Noted.' }, { kind: 'hang' });
  await first.app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'My bike is a red Brompton.' } });
  await until(() => Promise.resolve(first.standIn.requests.length), (n) => n >= 2);
  await first.app.close();

  const second = await startPai(t, { dataDir });
  second.standIn.enqueue({ kind: 'reply', text: facts([{ content: 'Rides a red Brompton bike', category: 'fact', importance: 0.6 }]) });
  const formed = await until(() => memoriesOf(second.app, u.headers), (m) => m.length === 1);
  t.match(formed, [{ content: 'Rides a red Brompton bike' }], 'the job left by the first process was done by the second');
});
