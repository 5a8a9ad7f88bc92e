/** Real PDFs for the extraction tests, written with pdf-lib (a root dev dependency). */
import { PDFDocument, PDFHexString, PDFName, StandardFonts } from 'pdf-lib';

export interface PdfSpec {
  /** Each page's lines of text, top to bottom; an empty page has no text at all. */
  pages: string[][];
  title?: string;
  /** A title in XMP metadata (dc:title) rather than the document info dictionary. */
  xmpTitle?: string;
}

export async function makePdf(spec: PdfSpec): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const lines of spec.pages) {
    const page = doc.addPage([612, 792]);
    lines.forEach((line, i) => page.drawText(line, { x: 50, y: 740 - i * 18, size: 12, font }));
  }
  if (spec.title !== undefined) doc.setTitle(spec.title);
  if (spec.xmpTitle !== undefined) {
    const xmp = `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">`
      + `<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt><rdf:li xml:lang="x-default">${spec.xmpTitle}</rdf:li></rdf:Alt></dc:title></rdf:Description>`
      + `</rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;
    const stream = doc.context.stream(xmp, { Type: 'Metadata', Subtype: 'XML' });
    doc.catalog.set(PDFName.of('Metadata'), doc.context.register(stream));
  }
  return doc.save();
}

/** A page with only vector drawing on it: what a scanned page (an image) gives a text extractor. */
export async function makeDrawingOnlyPdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const page = doc.addPage([612, 792]);
  page.drawRectangle({ x: 50, y: 50, width: 500, height: 600 });
  page.drawCircle({ x: 300, y: 400, size: 100 });
  return doc.save();
}

/**
 * A PDF encrypted with the standard security handler (RC4, revision 2) whose user password is not
 * empty, so no reader can open it without the password. pdf-lib cannot encrypt, so the /Encrypt
 * dictionary is written by hand with key material that matches no password.
 */
export async function makeEncryptedPdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  doc.addPage().drawText('Secret text', { x: 50, y: 700, size: 12, font });
  const { context } = doc;
  const encrypt = context.obj({ Filter: 'Standard', V: 1, R: 2, O: PDFHexString.of('11'.repeat(32)), U: PDFHexString.of('22'.repeat(32)), P: -44 });
  context.trailerInfo.Encrypt = context.register(encrypt);
  context.trailerInfo.ID = context.obj([PDFHexString.of('ab'.repeat(16)), PDFHexString.of('ab'.repeat(16))]);
  return doc.save({ useObjectStreams: false });
}
