import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { multipartBody, startPai, tempDir, until } from './helper.js';

type App = Awaited<ReturnType<typeof startPai>>['app'];

async function indexed(app: App, headers: Record<string, string>, id: string) {
  return until(async () => (await app.inject({ method: 'GET', url: `/v1/documents/${id}`, headers })).json(), (d) => d.status === 'indexed' || d.status === 'failed');
}

async function search(app: App, headers: Record<string, string>, payload: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/v1/search', headers, payload });
  return { status: res.statusCode, body: res.json() };
}

async function pdfOf(pages: string[], title?: string): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const text of pages) doc.addPage().drawText(text, { x: 50, y: 700, size: 12, font });
  if (title) doc.setTitle(title);
  return doc.save();
}

t.test('a JSON document is chunked, indexed in the background, searchable and cited in chat', async (t) => {
  const { app, standIn, newUser } = await startPai(t);
  const u = await newUser();
  const content = '# Zorbia travel guide\n\nThe capital of Zorbia is Quentinville, famous for its glass bridges.\n\n' +
    '## Food\n\nZorbian breakfast is smoked eel with cloudberry jam.';
  const created = await app.inject({ method: 'POST', url: '/v1/documents', headers: u.headers, payload: { title: 'Zorbia guide', content, content_type: 'text/markdown' } });
  t.equal(created.statusCode, 202);
  const doc = created.json();
  t.match(doc, { id: /^doc_/, title: 'Zorbia guide', content_type: 'text/markdown', status: 'pending', chunks_indexed: 0 });
  t.ok(doc.chunks_total >= 1);
  t.equal(created.headers.location, `/v1/documents/${doc.id}`);
  const done = await indexed(app, u.headers, doc.id);
  t.match(done, { status: 'indexed', error: null, chunks_indexed: doc.chunks_total });

  const found = await search(app, u.headers, { query: 'What is the capital of Zorbia?', types: ['document'] });
  t.equal(found.status, 200);
  t.equal(found.body.mode_used, 'keyword', 'no embedding provider: keyword search, and it says so');
  t.match(found.body.results[0], { type: 'document', content: /Quentinville/, metadata: { document_id: doc.id, title: 'Zorbia guide' } });

  const list = (await app.inject({ method: 'GET', url: '/v1/documents', headers: u.headers })).json();
  t.same(list.items.map((d: { id: string }) => d.id), [doc.id]);

  standIn.enqueue({ kind: 'reply', text: 'Quentinville [1].' });
  const chat = (await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'Tell me about the capital of Zorbia' } })).json();
  t.equal(chat.citations.length >= 1, true, 'the answer cites the document');
  t.match(chat.citations[0], { document_id: doc.id, chunk_id: /^doc_/, title: 'Zorbia guide' });
  const system = standIn.requests.at(-1)!.body!.messages![0]!.content;
  t.match(system, /<documents>[\s\S]*Quentinville[\s\S]*<\/documents>/, 'the passage is in the prompt, fenced as data');

  standIn.enqueue({ kind: 'reply', text: 'No documents.' });
  const off = (await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'Tell me about the capital of Zorbia', documents: 'off' } })).json();
  t.same(off.citations, [], 'documents: "off" turns retrieval off');
  t.notMatch(standIn.requests.at(-1)!.body!.messages![0]!.content, /<documents>/);

  // Streaming: the context event and done carry the citations.
  standIn.enqueue({ kind: 'reply', text: 'Streamed.' });
  const streamed = await app.inject({ method: 'POST', url: '/v1/chat', headers: { ...u.headers, accept: 'text/event-stream' }, payload: { message: 'capital of Zorbia?' } });
  t.match(streamed.body, /event: context\ndata: .*"citations":\[\{"document_id":"doc_/);

  t.equal((await app.inject({ method: 'DELETE', url: `/v1/documents/${doc.id}`, headers: u.headers })).statusCode, 204);
  const gone = await search(app, u.headers, { query: 'capital of Zorbia', types: ['document'] });
  t.same(gone.body.results, [], 'deleting a document removes every chunk from the index');
  t.equal((await app.inject({ method: 'GET', url: `/v1/documents/${doc.id}`, headers: u.headers })).statusCode, 404);
});

t.test('multipart uploads of every supported type are extracted, searchable and cited', async (t) => {
  const { app, standIn, newUser } = await startPai(t);
  const u = await newUser();
  const uploads = [
    { filename: 'notes.txt', contentType: 'text/plain', data: 'The spare key is hidden under the blue flowerpot.', query: 'where is the spare key', expect: /blue flowerpot/ },
    { filename: 'setup.md', contentType: 'text/markdown', data: '# Setup\n\n## Router\n\nThe router admin password rotates every quarter.', query: 'router admin password', expect: /rotates every quarter/ },
    {
      filename: 'page.html', contentType: 'text/html',
      data: '<html><head><title>Garden</title><script>var hidden = "tomatoes";</script></head><body><h1>Garden plan</h1><p>Plant the basil next to the lavender.</p></body></html>',
      query: 'basil lavender', expect: /basil next to the lavender/,
    },
    { filename: 'manual.pdf', contentType: 'application/pdf', data: await pdfOf(['Page one: the boiler service is due in March.', 'Page two: call Ferrante Heating for repairs.'], 'Boiler manual'), query: 'boiler service due', expect: /boiler service is due in March/ },
  ];
  for (const upload of uploads) {
    const body = multipartBody({}, { filename: upload.filename, contentType: upload.contentType, data: upload.data });
    const res = await app.inject({ method: 'POST', url: '/v1/documents', headers: { ...u.headers, ...body.headers }, payload: body.payload });
    t.equal(res.statusCode, 202, upload.filename);
    const done = await indexed(app, u.headers, res.json().id);
    t.equal(done.status, 'indexed', `${upload.filename} indexed`);
    t.equal(done.content_type, upload.contentType);
    const found = await search(app, u.headers, { query: upload.query, types: ['document'], filters: { document_id: done.id } });
    t.match(found.body.results[0]?.content, upload.expect, `${upload.filename} searchable`);
  }
  const docs = (await app.inject({ method: 'GET', url: '/v1/documents', headers: u.headers })).json().items;
  t.same(docs.map((d: { title: string }) => d.title).sort(), ['Boiler manual', 'Garden', 'Setup', 'notes.txt'], 'titles from the documents themselves, else the file name');
  const html = await search(app, u.headers, { query: 'tomatoes', types: ['document'] });
  t.same(html.body.results, [], 'script content is not indexed');

  standIn.enqueue({ kind: 'reply', text: 'Ferrante Heating.' });
  const chat = (await app.inject({ method: 'POST', url: '/v1/chat', headers: u.headers, payload: { message: 'Who repairs the boiler?' } })).json();
  t.match(chat.citations[0], { title: 'Boiler manual' });

  // A title and a content type given as fields win over the part's own.
  const named = multipartBody({ title: 'Named', content_type: 'text/markdown' }, { filename: 'x.bin', contentType: 'application/octet-stream', data: '# Heading\n\nQuokka facts.' });
  const res = await app.inject({ method: 'POST', url: '/v1/documents', headers: { ...u.headers, ...named.headers }, payload: named.payload });
  t.match(res.json(), { title: 'Named', content_type: 'text/markdown' });
});

t.test('bad uploads are refused with typed errors and nothing is stored', async (t) => {
  const { app, newUser } = await startPai(t, { env: { PAI_DOCUMENT_MAX_BYTES: '2048' } });
  const u = await newUser();
  const post = (payload: Buffer | object, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/v1/documents', headers: { ...u.headers, ...headers }, payload });
  const code = (res: { json(): any }) => res.json().error.code;

  const png = multipartBody({}, { filename: 'cat.png', contentType: 'image/png', data: new Uint8Array([0x89, 0x50, 0x4e, 0x47]) });
  let res = await post(png.payload, png.headers);
  t.equal(res.statusCode, 415);
  t.equal(code(res), 'PAI_DOCUMENT_UNSUPPORTED_TYPE');
  t.match(res.json().error.message, /application\/pdf/, 'the message lists what is supported');

  const big = multipartBody({}, { filename: 'big.txt', contentType: 'text/plain', data: 'x '.repeat(3000) });
  res = await post(big.payload, big.headers);
  t.equal(res.statusCode, 413);
  t.equal(code(res), 'PAI_DOCUMENT_TOO_LARGE');

  res = await post({ title: 'Big', content: 'y '.repeat(3000) });
  t.equal(res.statusCode, 413, 'JSON over the document limit');

  const corrupt = multipartBody({}, { filename: 'broken.pdf', contentType: 'application/pdf', data: '%PDF-1.7\nthis is not really a pdf' });
  res = await post(corrupt.payload, corrupt.headers);
  t.equal(res.statusCode, 422);
  t.equal(code(res), 'PAI_DOCUMENT_UNREADABLE');
  t.notMatch(res.body, /at \w+ \(/, 'no stack trace');

  res = await post({ title: 'Blank', content: '   \n\n  ' });
  t.equal(res.statusCode, 422);
  t.equal(code(res), 'PAI_DOCUMENT_EMPTY');

  res = await post({ title: 'PDF as JSON', content: 'x', content_type: 'application/pdf' });
  t.equal(res.statusCode, 400);
  t.match(res.json().error.details, [{ field: 'body.content_type' }]);
  res = await post({ content: 'no title' });
  t.equal(res.statusCode, 400);
  t.match(res.json().error.details, [{ field: 'body.title' }]);
  res = await post({ title: 'x', content: 'y', extra: true });
  t.equal(res.statusCode, 400);
  res = await app.inject({ method: 'POST', url: '/v1/documents', headers: { ...u.headers, 'content-type': 'application/json' }, payload: '{"title": "x",' });
  t.equal(code(res), 'PAI_REQUEST_MALFORMED_JSON');

  const noFile = multipartBody({ title: 'nothing' }, null);
  res = await post(noFile.payload, noFile.headers);
  t.equal(res.statusCode, 400);
  t.match(res.json().error.details, [{ field: 'body.file' }]);

  t.same((await app.inject({ method: 'GET', url: '/v1/documents', headers: u.headers })).json().items, [], 'nothing was stored');
  t.equal((await app.inject({ method: 'GET', url: '/v1/documents/doc_unknown', headers: u.headers })).json().error.code, 'PAI_DOCUMENT_NOT_FOUND');
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/documents/doc_unknown', headers: u.headers })).statusCode, 404);
  t.equal((await app.inject({ method: 'GET', url: '/v1/documents' })).statusCode, 401);
});

t.test("another user's documents are invisible: not listed, not readable, not deletable, never found", async (t) => {
  const { app, newUser } = await startPai(t);
  const alice = await newUser('alice');
  const bob = await newUser('bob');
  const content = 'The vault combination is 31-41-59.';
  const a = (await app.inject({ method: 'POST', url: '/v1/documents', headers: alice.headers, payload: { title: 'Vault', content } })).json();
  await indexed(app, alice.headers, a.id);
  t.equal((await app.inject({ method: 'GET', url: `/v1/documents/${a.id}`, headers: bob.headers })).statusCode, 404);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/documents/${a.id}`, headers: bob.headers })).statusCode, 404);
  t.same((await app.inject({ method: 'GET', url: '/v1/documents', headers: bob.headers })).json().items, []);
  const bobSearch = await search(app, bob.headers, { query: 'vault combination', filters: { document_id: a.id } });
  t.same(bobSearch.body.results, [], "filtering by another user's document id finds nothing");
  t.same((await search(app, bob.headers, { query: 'vault combination' })).body.results, []);
  t.equal((await search(app, alice.headers, { query: 'vault combination' })).body.results.length, 1);
});

t.test('documents stay searchable after a restart, and their text is never on disk in plaintext', async (t) => {
  const dataDir = tempDir(t);
  const canary = 'Xylophonecanary' + Math.random().toString(36).slice(2, 10);
  const first = await startPai(t, { dataDir });
  const u = await first.newUser();
  const doc = (await first.app.inject({ method: 'POST', url: '/v1/documents', headers: u.headers, payload: { title: `Secret ${canary}`, content: `The ${canary} sings at dawn.` } })).json();
  await indexed(first.app, u.headers, doc.id);
  await first.app.close();

  const again = await startPai(t, { dataDir });
  const found = await search(again.app, u.headers, { query: canary });
  t.equal(found.body.results.length, 1, 'the embedded index rebuilt the user from the store');
  t.match(found.body.results[0], { type: 'document', metadata: { title: `Secret ${canary}` } });

  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(dataDir);
  for (const file of files) {
    const bytes = readFileSync(file);
    t.notOk(bytes.includes(Buffer.from(canary)), `${file}: no plaintext`);
    t.notOk(bytes.includes(Buffer.from(canary, 'utf16le')), `${file}: no UTF-16 plaintext`);
  }
});

t.test('the admin can rebuild the index from the store; users cannot', async (t) => {
  const { app, newUser } = await startPai(t);
  const u = await newUser();
  const doc = (await app.inject({ method: 'POST', url: '/v1/documents', headers: u.headers, payload: { title: 'Rebuild', content: 'Penguins waddle on ice.\n\nSeals swim.' } })).json();
  await indexed(app, u.headers, doc.id);
  await app.inject({ method: 'POST', url: '/v1/memories', headers: u.headers, payload: { content: 'Loves penguins' } });
  t.equal((await app.inject({ method: 'POST', url: '/v1/search/rebuild', headers: u.headers })).statusCode, 403);
  const res = await app.inject({ method: 'POST', url: '/v1/search/rebuild', headers: { authorization: 'Bearer embedded-test-admin-key-0123456789' } });
  t.equal(res.statusCode, 200);
  t.match(res.json(), { users: 1, embedded: 0 });
  t.ok(res.json().items >= 2, 'the memory and the chunk re-indexed');
  const found = await search(app, u.headers, { query: 'penguins' });
  t.same(found.body.results.map((r: { type: string }) => r.type).sort(), ['document', 'memory']);
});
