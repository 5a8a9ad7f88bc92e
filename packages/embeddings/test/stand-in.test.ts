import t from 'tap';
import { cosineSimilarity, vectorFromBase64 } from '../src/index.js';
import {
  OPENAI_MAX_INPUTS,
  standInEmbedding,
  standInTerms,
  startBedrockEmbeddingsStandIn,
  startOpenAiEmbeddingsStandIn,
} from '../src/testing/index.js';
import { TITAN, norm } from './helpers.js';

t.test('the stand-in embedding is deterministic, unit length, and maps meaning to shared buckets', async (t) => {
  const a = standInEmbedding('My automobile broke down', 64);
  t.same(Array.from(standInEmbedding('My automobile broke down', 64)), Array.from(a), 'deterministic');
  t.equal(a.length, 64);
  t.ok(Math.abs(norm(a) - 1) < 1e-6);

  const similar = (x: string, y: string): number => cosineSimilarity(standInEmbedding(x, 256), standInEmbedding(y, 256));
  t.ok(similar('My automobile broke down', 'car repair') > 0.3, 'car / automobile');
  t.ok(similar('I need a physician', 'doctor appointment') > 0.3, 'doctor / physician');
  t.equal(similar('cars', 'the car'), 1, 'plural and stop words do not matter');
  t.equal(similar('Children played outside', 'kids playing outside'), 1, 'child / kid, tense');
  t.equal(similar('I love cats', 'stock market news'), 0, 'unrelated texts are orthogonal');
  t.same(standInTerms('The puppies were running to the boxes'), ['dog', 'runn', 'box']);

  const empty = standInEmbedding('the of and', 16);
  t.ok(Math.abs(norm(empty) - 1) < 1e-6, 'stop words only still give a unit vector');
  t.notSame(Array.from(empty), Array.from(standInEmbedding('?!', 16)), 'chosen by the whole text');
  t.throws(() => standInEmbedding('x', 0), RangeError);
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: JSON.parse(text) };
}

t.test('OpenAI stand-in speaks the embeddings protocol', async (t) => {
  const standIn = await startOpenAiEmbeddingsStandIn();
  t.teardown(() => standIn.close());
  const url = `${standIn.url}/embeddings`;

  const single = await post(url, { model: 'text-embedding-3-small', input: 'one text' });
  t.equal(single.status, 200);
  t.equal(single.json.object, 'list');
  t.equal(single.json.model, 'text-embedding-3-small');
  t.same(single.json.data.map((item: { object: string; index: number }) => [item.object, item.index]), [['embedding', 0]]);
  t.equal(single.json.data[0].embedding.length, 1536, 'the native size when none is asked for');
  t.match(single.json.usage, { prompt_tokens: Number, total_tokens: Number });

  const encoded = await post(url, { model: 'm', input: ['a', 'b'], dimensions: 8, encoding_format: 'base64' });
  t.same(Array.from(vectorFromBase64(encoded.json.data[1].embedding)), Array.from(standInEmbedding('b', 8)));

  const rejected: Array<[unknown, RegExp]> = [
    ['{not json', /could not parse the JSON body/],
    [{ input: ['x'] }, /must provide a model/],
    [{ model: 'm', input: [] }, /'\$\.input' is invalid/],
    [{ model: 'm', input: ['x', ''] }, /'\$\.input' is invalid/],
    [{ model: 'm', input: [1] }, /'\$\.input' is invalid/],
    [{ model: 'm', input: Array.from({ length: OPENAI_MAX_INPUTS + 1 }, () => 'x') }, /at most 2048 inputs/],
    [{ model: 'm', input: ['x'], dimensions: 0 }, /Invalid value for 'dimensions'/],
    [{ model: 'm', input: ['x'], encoding_format: 'int8' }, /Invalid value for 'encoding_format'/],
  ];
  for (const [body, message] of rejected) {
    const answer = await post(url, body);
    t.equal(answer.status, 400, String(message));
    t.match(answer.json.error, { message, type: 'invalid_request_error' });
  }
  t.same(standIn.texts, ['one text', 'a', 'b'], 'only texts of valid requests are counted');
  t.equal(standIn.calls, 2 + rejected.length, 'every embeddings request is a call');

  const missing = await post(`${standIn.url}/chat/completions`, {});
  t.equal(missing.status, 404);

  standIn.failNext(2, 503, 'busy');
  t.equal((await post(url, { model: 'm', input: 'x' })).status, 503);
  const second = await post(url, { model: 'm', input: 'x' });
  t.same(second.json, { error: { message: 'busy', type: 'server_error', param: null, code: null } });
  t.equal((await post(url, { model: 'm', input: 'x' })).status, 200, 'then back to normal');

  standIn.reset();
  t.equal(standIn.calls, 0);
  t.same(standIn.texts, []);
  t.same(standIn.requests, []);
});

t.test('OpenAI stand-in can require an API key', async (t) => {
  const standIn = await startOpenAiEmbeddingsStandIn({ apiKey: 'sk-good' });
  t.teardown(() => standIn.close());
  const url = `${standIn.url}/embeddings`;
  const denied = await post(url, { model: 'm', input: 'x' });
  t.equal(denied.status, 401);
  t.equal(denied.json.error.code, 'invalid_api_key');
  t.equal((await post(url, { model: 'm', input: 'x' }, { authorization: 'Bearer sk-good' })).status, 200);
});

t.test('Bedrock stand-in speaks InvokeModel for Titan Text Embeddings v2', async (t) => {
  const standIn = await startBedrockEmbeddingsStandIn();
  t.teardown(() => standIn.close());
  const url = `${standIn.url}/model/${encodeURIComponent(TITAN)}/invoke`;

  const answer = await post(url, { inputText: 'Hello there', dimensions: 512, normalize: true });
  t.equal(answer.status, 200);
  t.same(answer.json.embedding, Array.from(standInEmbedding('Hello there', 512)));
  t.same(answer.json.embeddingsByType.float, answer.json.embedding);
  t.equal(answer.json.inputTextTokenCount, 1);
  t.ok(answer.headers.get('x-amzn-requestid'));
  t.equal(answer.headers.get('x-amzn-bedrock-input-token-count'), '1');

  const defaults = await post(url, { inputText: 'defaults' });
  t.equal(defaults.json.embedding.length, 1024, '1024 dimensions by default');
  const raw = await post(url, { inputText: 'raw magnitude', dimensions: 256, normalize: false });
  t.ok(Math.abs(norm(raw.json.embedding) - 3.5) < 1e-5, 'normalize: false is not unit length');
  t.equal(standIn.requests[0]?.modelId, TITAN);
  t.equal(standIn.requests[0]?.signed, false);

  const rejected: Array<[string, unknown, RegExp]> = [
    [url, { inputText: 'x', extra: 1 }, /extraneous key \[extra\] is not permitted/],
    [url, { dimensions: 256 }, /required key \[inputText\] not found/],
    [url, { inputText: '' }, /expected minLength: 1, actual: 0/],
    [url, { inputText: 'x', dimensions: 768 }, /768 is not a valid enum value/],
    [url, { inputText: 'x', normalize: 'yes' }, /#\/normalize: expected type: Boolean/],
    [url, '[1, 2]', /expected type: JSONObject/],
    [`${standIn.url}/model/${encodeURIComponent('anthropic.claude-3-haiku-20240307-v1:0')}/invoke`, { inputText: 'x' }, /model identifier is invalid/],
  ];
  for (const [target, body, message] of rejected) {
    const rejection = await post(target, body);
    t.equal(rejection.status, 400, String(message));
    t.match(rejection.headers.get('x-amzn-errortype'), /^ValidationException:/);
    t.match(rejection.json.message, message);
  }

  const unknown = await post(`${standIn.url}/model/${encodeURIComponent(TITAN)}/converse`, {});
  t.equal(unknown.status, 404);
  t.match(unknown.headers.get('x-amzn-errortype'), /^UnknownOperationException:/);

  standIn.failNext(1, 429);
  standIn.failNext(1, 'ModelTimeoutException', 'slow model');
  standIn.enqueue({ kind: 'fail', exception: 'ThrottlingException', status: 400 });
  const throttled = await post(url, { inputText: 'x' });
  t.equal(throttled.status, 429);
  t.match(throttled.headers.get('x-amzn-errortype'), /^ThrottlingException:/);
  const timedOut = await post(url, { inputText: 'x' });
  t.equal(timedOut.status, 408);
  t.same(timedOut.json, { message: 'slow model' });
  t.equal((await post(url, { inputText: 'x' })).status, 400, 'an explicit status wins');
});
