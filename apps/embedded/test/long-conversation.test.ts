import t from 'tap';
import { budgetTokens } from '@pai/agent';
import { startPai } from './helper.js';

const CONTEXT = 1024;
const OUTPUT = 256;

t.test('a 500-turn conversation never sends more than the budget; older turns live on in a running summary', async (t) => {
  const { app, standIn, newUser } = await startPai(t, {
    env: { LLM_CONTEXT_TOKENS: String(CONTEXT), LLM_MAX_OUTPUT_TOKENS: String(OUTPUT), PAI_HISTORY_MESSAGES: '40', LOG_LEVEL: 'warn' },
  });
  const u = await newUser();
  let conversation_id: string | undefined;
  for (let i = 0; i < 500; i++) {
    // Varied lengths and scripts, so the estimate is exercised on more than ASCII.
    const message = `turn ${i}: ${i % 7 === 0 ? '日本語のテキスト '.repeat(i % 20) : ''}${'note '.repeat(i % 37)}`;
    const res = await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message, conversation_id, memory: 'off' } });
    if (res.statusCode !== 200) t.fail(`turn ${i}: ${res.statusCode} ${res.body}`);
    conversation_id = res.json().conversation_id;
  }
  const chats = standIn.requests
    .filter((r) => r.path.endsWith('/chat/completions'))
    .map((r) => r.body!)
    .filter((b) => !/running summary of a long conversation/.test(b.messages![0]!.content));
  t.equal(chats.length, 500);
  let largest = 0;
  for (const body of chats) {
    const tokens = body.messages!.reduce((n, m) => n + budgetTokens(m.content) + 4, 0);
    largest = Math.max(largest, tokens);
  }
  t.ok(largest <= CONTEXT - OUTPUT, `the largest prompt was ${largest} estimated tokens (budget ${CONTEXT - OUTPUT})`);
  t.ok(chats.every((b) => b.max_tokens === OUTPUT), 'the answer is capped at the reserved output');
  const last = chats.at(-1)!.messages!;
  t.match(last[0]!.content, /<summary>[\s\S]+<\/summary>/, 'the running summary is in the prompt');
  t.match(last.at(-1)!.content, /^turn 499/, 'the new message is always sent');
  t.match(last.at(-2)!.content, /turn 498/, 'the latest turns are verbatim');
  const summarizations = standIn.requests.filter((r) => /running summary of a long conversation/.test(r.body?.messages?.[0]?.content ?? ''));
  t.ok(summarizations.length > 0 && summarizations.length < 250, `summarized in ${summarizations.length} steps, not once per turn`);
  const conv = (await app.inject({ method: 'GET', url: `/v1/conversations/${conversation_id}?limit=1`, headers: u.headers })).json();
  t.equal(conv.messages[0].content.slice(0, 7), 'turn 0:', 'every message is still stored');
});
