import t from 'tap';
import { DocumentErrors } from '@pai/errors';
import { chunkText, extractText } from '@pai/documents';
import { makeDrawingOnlyPdf, makeEncryptedPdf, makePdf } from './pdf-fixtures.js';

async function refusal(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; statusCode: number; message: string; stack?: string };
  }
  throw new Error('expected a refusal');
}

t.test('a one-page PDF gives its text, its metadata title and a page count', async (t) => {
  const pdf = await makePdf({ pages: [['Quarterly report for the garden club.', 'Tomatoes did well this year.']], title: 'Garden Club Report' });
  const result = await extractText(pdf, 'application/pdf');
  t.equal(result.text, 'Quarterly report for the garden club.\nTomatoes did well this year.');
  t.equal(result.title, 'Garden Club Report');
  t.equal(result.pages, 1);
});

t.test('without an info Title, the XMP dc:title is used', async (t) => {
  const pdf = await makePdf({ pages: [['Body text.']], xmpTitle: 'From XMP' });
  t.equal((await extractText(pdf, 'application/pdf')).title, 'From XMP');
});

t.test('pages are read in order and separated by a blank line', async (t) => {
  const pdf = await makePdf({ pages: [['First page, line one.', 'First page, line two.'], ['Second page.'], ['Third page.']] });
  const result = await extractText(pdf, 'application/pdf');
  t.equal(result.text, 'First page, line one.\nFirst page, line two.\n\nSecond page.\n\nThird page.');
  t.equal(result.pages, 3);
  t.equal(result.title, null, 'no Title in the metadata, no title');
  const chunks = chunkText(result.text, { maxTokens: 200, overlapTokens: 20, contentType: 'application/pdf' });
  t.equal(chunks.length, 1);
  t.equal(chunks[0]!.heading, null);
});

t.test('a blank page in the middle leaves no gap', async (t) => {
  const pdf = await makePdf({ pages: [['Before.'], [], ['After.']] });
  const result = await extractText(pdf, 'application/pdf');
  t.equal(result.text, 'Before.\n\nAfter.');
  t.equal(result.pages, 3);
});

t.test('the caller\'s buffer is left intact (pdf.js detaches what it is given)', async (t) => {
  const pdf = await makePdf({ pages: [['Some text.']] });
  const size = pdf.byteLength;
  const copy = pdf.slice();
  await extractText(pdf, 'application/pdf');
  t.equal(pdf.byteLength, size);
  t.same(pdf, copy);
  const again = await extractText(pdf, 'application/pdf');
  t.equal(again.text, 'Some text.', 'the same bytes can be read twice');
});

t.test('a PDF view into a larger buffer (how multipart uploads arrive) is read from its own bytes only', async (t) => {
  const pdf = await makePdf({ pages: [['Inside the view.']] });
  const backing = new Uint8Array(pdf.byteLength + 200);
  backing.fill(0x41);
  backing.set(pdf, 100);
  const view = new Uint8Array(backing.buffer, 100, pdf.byteLength);
  t.equal((await extractText(view, 'application/pdf')).text, 'Inside the view.');
  t.equal(backing.byteLength, pdf.byteLength + 200);
});

t.test('more pages than maxPages is refused before reading them', async (t) => {
  const pdf = await makePdf({ pages: [['One.'], ['Two.'], ['Three.']] });
  const error = await refusal(extractText(pdf, 'application/pdf', { maxPages: 2 }));
  t.ok(DocumentErrors.unreadable.is(error));
  t.equal(error.statusCode, 422);
  t.match(error.message, /3 pages, more than the 2 allowed/);
  t.equal((await extractText(pdf, 'application/pdf', { maxPages: 3 })).pages, 3, 'exactly at the limit is fine');
});

t.test('a PDF with no text (drawings, scans) is empty', async (t) => {
  const error = await refusal(extractText(await makeDrawingOnlyPdf(), 'application/pdf'));
  t.ok(DocumentErrors.empty.is(error));
  t.equal(error.statusCode, 422);
});

t.test('an encrypted PDF is unreadable, and says so', async (t) => {
  const error = await refusal(extractText(await makeEncryptedPdf(), 'application/pdf'));
  t.ok(DocumentErrors.unreadable.is(error));
  t.equal(error.statusCode, 422);
  t.match(error.message, /encrypted/);
  t.notMatch(error.message, /\n\s+at /, 'no stack in the message');
});

t.test('damaged and fake PDFs are unreadable with a short reason', async (t) => {
  const good = await makePdf({ pages: [['Some text that will be cut off.']] });
  const cases: Array<[string, Uint8Array]> = [
    ['truncated', good.slice(0, Math.floor(good.byteLength / 2))],
    ['a PDF header and garbage', new TextEncoder().encode('%PDF-1.7\n%garbage\n1 0 obj << /Type /Nonsense >>\ntrailer\n%%EOF')],
    ['random bytes after a header', Uint8Array.from({ length: 4096 }, (_, i) => (i < 9 ? '%PDF-1.4\n'.charCodeAt(i) : (i * 7919) % 251))],
  ];
  for (const [name, bytes] of cases) {
    const error = await refusal(extractText(bytes, 'application/pdf'));
    t.ok(DocumentErrors.unreadable.is(error), name);
    t.match(error.message, /^The document could not be read: the PDF is damaged/, name);
    t.ok(error.message.length < 120, `${name}: short`);
  }
});

t.test('something that is not a PDF at all is refused without asking pdf.js', async (t) => {
  for (const bytes of [new TextEncoder().encode('hello, I am plain text'), new Uint8Array(0)]) {
    const error = await refusal(extractText(bytes, 'application/pdf'));
    t.ok(DocumentErrors.unreadable.is(error));
    t.match(error.message, /not a PDF/);
  }
});

t.test('a PDF sent as a string is refused: PDFs are binary', async (t) => {
  const error = await refusal(extractText('%PDF-1.7 ...', 'application/pdf'));
  t.ok(DocumentErrors.unreadable.is(error));
  t.match(error.message, /uploaded as a file/);
});
