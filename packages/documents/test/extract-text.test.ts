import t from 'tap';
import { DocumentErrors } from '@pai/errors';
import { SUPPORTED_CONTENT_TYPES, chunkText, extractText } from '@pai/documents';

const utf8 = (s: string) => new TextEncoder().encode(s);

async function refusal(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; statusCode: number; message: string };
  }
  throw new Error('expected a refusal');
}

t.test('text/plain: UTF-8 decoded, BOM stripped, newlines normalized, no title', async (t) => {
  const bytes = Uint8Array.from([0xef, 0xbb, 0xbf, ...utf8('Café notes\r\nline two\rline three\n')]);
  t.same(await extractText(bytes, 'text/plain'), { text: 'Café notes\nline two\nline three\n', title: null, pages: null });
  t.equal((await extractText('\uFEFFalready a string\r\n', 'text/plain')).text, 'already a string\n');
});

t.test('text/plain: control characters go, form feeds become paragraph breaks, tabs stay', async (t) => {
  const { text } = await extractText(utf8('a\u0007b\tc\fd\u001be'), 'text/plain');
  t.equal(text, 'ab\tc\n\nde');
});

t.test('text/plain: invalid UTF-8 is unreadable (never patched with U+FFFD)', async (t) => {
  for (const bytes of [Uint8Array.from([0x48, 0x69, 0xff, 0xfe, 0x21]), Uint8Array.from([0x61, 0xc3]), Uint8Array.from([0xed, 0xa0, 0x80])]) {
    const error = await refusal(extractText(bytes, 'text/plain'));
    t.ok(DocumentErrors.unreadable.is(error));
    t.equal(error.statusCode, 422);
    t.match(error.message, /not valid UTF-8/);
  }
});

t.test('text/plain: binary data (NUL bytes) is unreadable', async (t) => {
  const error = await refusal(extractText(Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x41]), 'text/plain'));
  t.ok(DocumentErrors.unreadable.is(error));
  t.match(error.message, /binary/);
});

t.test('a declared charset is honoured; a UTF-16 BOM is recognised; an unknown charset is refused', async (t) => {
  const latin1 = Uint8Array.from([0x63, 0x61, 0x66, 0xe9]); // "café" in ISO-8859-1, invalid as UTF-8
  t.equal((await extractText(latin1, 'text/plain; charset=ISO-8859-1')).text, 'café');
  t.ok(DocumentErrors.unreadable.is(await refusal(extractText(latin1, 'text/plain'))), 'UTF-8 by default');
  const utf16 = Uint8Array.from([0xff, 0xfe, 0x68, 0x00, 0x69, 0x00]);
  t.equal((await extractText(utf16, 'text/plain')).text, 'hi');
  const error = await refusal(extractText(utf8('x'), 'text/plain; charset=klingon'));
  t.ok(DocumentErrors.unreadable.is(error));
  t.match(error.message, /unknown character set 'klingon'/);
});

t.test('empty and whitespace-only documents are empty, whatever the type', async (t) => {
  for (const [input, type] of [
    [new Uint8Array(0), 'text/plain'], ['  \n\t\r\n ', 'text/plain'], ['\uFEFF', 'text/markdown'],
    ['<html><head><title>Only a title</title></head><body> <script>var x = 1;</script> </body></html>', 'text/html'],
    ['<img src="a.png"><style>p{}</style>', 'text/html'],
  ] as const) {
    const error = await refusal(extractText(input, type));
    t.ok(DocumentErrors.empty.is(error), `${type} ${JSON.stringify(input).slice(0, 30)}`);
    t.equal(error.statusCode, 422);
  }
});

t.test('unsupported types are refused with 415 and the supported list', async (t) => {
  for (const type of ['image/png', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'text/csv']) {
    const error = await refusal(extractText(utf8('a,b'), type));
    t.ok(DocumentErrors.unsupportedType.is(error));
    t.equal(error.statusCode, 415);
    t.match(error.message, type);
    for (const supported of SUPPORTED_CONTENT_TYPES) t.match(error.message, supported);
  }
  t.match((await refusal(extractText('x', ''))).message, /'unknown'/);
});

t.test('content types are normalized: parameters, case and aliases', async (t) => {
  t.equal((await extractText('# Hello\n\nworld', 'Text/X-Markdown; charset=UTF-8')).title, 'Hello');
  t.equal((await extractText('<title>T</title><p>x</p>', 'application/xhtml+xml')).title, 'T');
});

t.test('text/markdown: the text is kept as written; the title is the first level-1 heading', async (t) => {
  const md = 'Intro line.\n\n## Not the title\n\n# The Title #\n\nBody with `code`.\n\n# Another H1\n';
  const result = await extractText(utf8(md), 'text/markdown');
  t.equal(result.text, md);
  t.equal(result.title, 'The Title');
  t.equal(result.pages, null);
  t.equal((await extractText('Setext Title\n============\n\nBody.', 'text/markdown')).title, 'Setext Title');
  t.equal((await extractText('## Only level two\n\ntext', 'text/markdown')).title, null);
  t.equal((await extractText('```\n# a comment in code\n```\n\ntext', 'text/markdown')).title, null, 'headings inside code fences do not count');
  t.equal((await extractText('#hashtag is not a heading', 'text/markdown')).title, null);
});

t.test('text/html: headings become # lines, links read as text, scripts/styles/images/menus vanish', async (t) => {
  const html = `<!doctype html>
<html><head><title>Trip &amp; Notes</title><style>body { color: red }</style><script>var leak = "SCRIPT-TEXT";</script></head>
<body>
  <nav><a href="/">Home</a></nav>
  <h1>Porto <em>trip</em></h1>
  <p>We stayed near the <a href="https://example.com/river">river</a>. <img src="bridge.png" alt="ALT-TEXT">It was sunny.</p>
  <script>document.write("SCRIPT-TEXT")</script>
  <h2>Food</h2>
  <ul><li>Francesinha</li><li>Pastel de nata</li></ul>
  <h3><img src="icon.png"></h3>
  <h3>Drinks</h3>
  <p>Port wine, of course &mdash; and coffee.</p>
  <pre># not a heading
ls -la</pre>
  <table><tr><th>Day</th><th>Cost</th></tr><tr><td>Mon</td><td>40</td></tr></table>
  <noscript>Enable JavaScript</noscript>
</body></html>`;
  const { text, title, pages } = await extractText(utf8(html), 'text/html; charset=utf-8');
  t.equal(title, 'Trip & Notes');
  t.equal(pages, null);
  t.match(text, /^# Porto trip$/m);
  t.match(text, /^## Food$/m);
  t.match(text, /^### Drinks$/m);
  t.match(text, 'We stayed near the river. It was sunny.');
  t.match(text, /^- Francesinha$/m);
  t.match(text, 'Port wine, of course — and coffee.');
  t.match(text, /```\n# not a heading\nls -la\n```/);
  t.match(text, /Day +Cost\nMon +40/);
  for (const leaked of ['SCRIPT-TEXT', 'color: red', 'ALT-TEXT', 'bridge.png', 'https://example.com', 'Enable JavaScript', 'Home']) {
    t.notMatch(text, leaked, `no ${leaked}`);
  }
  t.notMatch(text, /^#+ *$/m, 'a heading left without text is dropped');

  const chunks = chunkText(text, { maxTokens: 500, overlapTokens: 0, contentType: 'text/html' });
  t.same(chunks.map((c) => c.heading), ['Porto trip', 'Porto trip › Food', 'Porto trip › Food › Drinks']);
  t.ok(chunks[2]!.text.includes('# not a heading'), 'the fenced shell comment stays in the Drinks chunk');
});

t.test('text/html: without <title> the first <h1> is the title; fragments work', async (t) => {
  t.equal((await extractText('<h2>Sub</h2><h1>Main</h1><p>x</p>', 'text/html')).title, 'Main');
  t.equal((await extractText('<p>Just a <b>fragment</b> &lt;3</p>', 'text/html')).text, 'Just a fragment <3');
  t.equal((await extractText('<p>No headings</p>', 'text/html')).title, null);
  t.equal((await extractText('<title> </title><h1>Fallback</h1>', 'text/html')).title, 'Fallback', 'a blank <title> does not count');
});

t.test('text/html: the charset comes from the header, else from <meta charset>, else UTF-8', async (t) => {
  const body = Uint8Array.from([...utf8('<p>caf'), 0xe9, ...utf8('</p>')]);
  t.equal((await extractText(body, 'text/html; charset=windows-1252')).text, 'café');
  const withMeta = Uint8Array.from([...utf8('<html><head><meta charset="iso-8859-1"></head><body><p>caf'), 0xe9, ...utf8('</p></body></html>')]);
  t.equal((await extractText(withMeta, 'text/html')).text, 'café');
  t.ok(DocumentErrors.unreadable.is(await refusal(extractText(body, 'text/html'))));
});
