import t from 'tap';
import { LlmErrors, type PaiError } from '@pai/errors';
import { DEFAULT_RETRY_BUDGET, DEFAULT_TIMEOUTS, RetryBudget } from '../src/index.js';
import { activeTimeouts, caught, collect, rig } from './helpers.js';

const ask = (content: string) => ({ messages: [{ role: 'user' as const, content }] });

t.test('defaults: a minute of silence mid-stream is too long; retries add at most 20%', async (t) => {
  t.equal(DEFAULT_TIMEOUTS.idleMs, 60_000);
  t.same(DEFAULT_RETRY_BUDGET, { ratio: 0.2, minRetriesPerWindow: 10, windowMs: 60_000 });
});

t.test('OpenAI-compatible: a pause longer than the idle timeout between chunks is a timeout', async (t) => {
  const r = await rig(t, { timeouts: { firstTokenMs: 2_000, idleMs: 120, totalMs: 5_000 } });
  const timersBefore = activeTimeouts();
  r.standIn.enqueue({ kind: 'slow-chunks', delayMs: 400 });
  const started = performance.now();
  const result = await collect(r.provider.stream(ask('a b c')));
  t.same(result.deltas, ['Echo: ']);
  t.ok(LlmErrors.timeout.is(result.error), (result.error as PaiError).code);
  t.match((result.error as PaiError).message, /sent nothing for the idle timeout of 120 ms in the middle of the stream/);
  t.ok(performance.now() - started < 400, 'well before the next chunk');
  t.ok(await r.standIn.waitForAborted(1, 100), 'the upstream connection was closed');
  t.equal(r.standIn.requests.length, 1, 'not retried');
  t.equal(activeTimeouts(), timersBefore, 'every timer was cleared');

  r.standIn.enqueue({ kind: 'slow-chunks', delayMs: 20 });
  t.equal((await collect(r.provider.stream(ask('a b c')))).deltas.join(''), 'Echo: a b c', 'short gaps are fine');
  r.standIn.enqueue({ kind: 'slow-first-token', delayMs: 250 });
  t.equal((await collect(r.provider.stream(ask('late')))).deltas.join(''), 'Echo: late', 'the first token is not held to the idle limit');
});

t.test('OpenAI-compatible: a slow consumer does not count as upstream idleness', async (t) => {
  const r = await rig(t, { timeouts: { idleMs: 80 } });
  const deltas: string[] = [];
  for await (const event of r.provider.stream(ask('one two three'))) {
    if (event.type !== 'delta') continue;
    deltas.push(event.text);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  t.equal(deltas.join(''), 'Echo: one two three');
});

t.test('OpenAI-compatible: upstream errors carry their status; a spent budget stops retries', async (t) => {
  let now = 0;
  const r = await rig(t, { retryBudget: new RetryBudget({ ratio: 0, minRetriesPerWindow: 2, now: () => now }) });
  r.standIn.enqueue(...Array.from({ length: 3 }, () => ({ kind: 'fail' as const, status: 502 })));
  let error = (await caught(r.provider.complete(ask('x')))) as PaiError;
  t.ok(LlmErrors.upstream.is(error), error.code);
  t.same(error.details, { upstreamStatus: 502 });
  t.equal(r.standIn.requests.length, 3, 'first attempt plus two retries');

  r.standIn.reset();
  r.standIn.enqueue({ kind: 'fail', status: 503 }, { kind: 'fail', status: 503 });
  error = (await caught(r.provider.complete(ask('x')))) as PaiError;
  t.match(error.message, /answered 503: .*\(Not retried: this provider's retry budget is spent/);
  t.equal(r.standIn.requests.length, 1, 'the budget was spent by the first call');

  now += 60_000;
  t.equal((await r.provider.complete(ask('x'))).text, 'Echo: x', 'the queued 503 is retried in a new window');
  t.equal(r.standIn.requests.length, 3);
});

t.test('RetryBudget: max(minimum, ratio × calls) retries over a sliding window', async (t) => {
  let now = 0;
  const budget = new RetryBudget({ ratio: 0.2, minRetriesPerWindow: 3, windowMs: 60_000, now: () => now });
  t.equal(budget.available(), 3, 'the minimum with no traffic');
  t.ok(budget.tryRetry() && budget.tryRetry() && budget.tryRetry());
  t.notOk(budget.tryRetry(), 'the minimum is spent');
  for (let i = 0; i < 50; i += 1) budget.recordCall();
  t.equal(budget.available(), 7, '20% of 50 calls is 10 retries, 3 already taken');

  now = 30_000;
  for (let i = 0; i < 50; i += 1) budget.recordCall();
  t.equal(budget.available(), 17, '100 calls in the window: 20 retries, 3 taken');
  now = 65_000;
  t.equal(budget.available(), 10, 'the first 50 calls and the 3 retries left the window');
  now = 200_000;
  t.equal(budget.available(), 3, 'back to the minimum');

  const strict = new RetryBudget({ ratio: 0, minRetriesPerWindow: 0 });
  strict.recordCall();
  t.notOk(strict.tryRetry(), 'a zero budget never retries');
});
