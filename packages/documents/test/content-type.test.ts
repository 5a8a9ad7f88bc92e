import t from 'tap';
import { SUPPORTED_CONTENT_TYPES, contentTypeFromFilename, isSupportedContentType, normalizeContentType, parseContentType } from '@pai/documents';

t.test('normalizeContentType strips parameters, lowercases and maps aliases', async (t) => {
  t.equal(normalizeContentType('text/plain; charset=utf-8'), 'text/plain');
  t.equal(normalizeContentType('  Text/HTML ;charset="ISO-8859-1"'), 'text/html');
  t.equal(normalizeContentType('text/x-markdown'), 'text/markdown');
  t.equal(normalizeContentType('text/md'), 'text/markdown');
  t.equal(normalizeContentType('application/x-pdf'), 'application/pdf');
  t.equal(normalizeContentType('application/xhtml+xml; charset=utf-8'), 'text/html');
  t.equal(normalizeContentType('image/PNG'), 'image/png', 'unsupported types come back normalized, for the caller to refuse');
  t.equal(normalizeContentType(''), '');
});

t.test('a generic or missing type defers to the file name', async (t) => {
  t.equal(normalizeContentType('application/octet-stream', 'notes.md'), 'text/markdown');
  t.equal(normalizeContentType('', 'scan.PDF'), 'application/pdf');
  t.equal(normalizeContentType('application/octet-stream', 'archive.zip'), 'application/octet-stream');
  t.equal(normalizeContentType('text/plain', 'notes.md'), 'text/plain', 'a specific type wins over the name');
});

t.test('contentTypeFromFilename knows the supported extensions only', async (t) => {
  const cases: Array<[string, string | null]> = [
    ['a.md', 'text/markdown'], ['a.markdown', 'text/markdown'], ['README.MD', 'text/markdown'],
    ['a.txt', 'text/plain'], ['a.html', 'text/html'], ['a.htm', 'text/html'], ['a.pdf', 'application/pdf'],
    ['dir.v2/report.final.pdf', 'application/pdf'], ['C:\\Users\\me\\notes.txt', 'text/plain'],
    ['a.docx', null], ['Makefile', null], ['.md', null], ['trailing.', null], ['', null],
  ];
  for (const [name, type] of cases) t.equal(contentTypeFromFilename(name), type, name);
});

t.test('parseContentType keeps the charset; isSupportedContentType guards the list', async (t) => {
  t.same(parseContentType('text/plain; format=flowed; charset=Windows-1252'), { type: 'text/plain', charset: 'windows-1252' });
  t.same(parseContentType('text/markdown'), { type: 'text/markdown', charset: null });
  t.same([...SUPPORTED_CONTENT_TYPES], ['text/plain', 'text/markdown', 'text/html', 'application/pdf']);
  t.ok(isSupportedContentType('application/pdf'));
  t.notOk(isSupportedContentType('text/csv'));
});
