import { DocumentErrors } from '@pai/errors';
import { extractText, getDocumentProxy, getMeta } from 'unpdf';
import { normalizeText } from './text-decoding.js';

type PdfDocument = Awaited<ReturnType<typeof getDocumentProxy>>;

export interface PdfText {
  text: string;
  title: string | null;
  pages: number;
}

/** pdf.js verbosity: errors only (its warnings would go to the console). */
const ERRORS_ONLY = 0;

/**
 * The text of each page, pages separated by a blank line; the title from the document info (or
 * XMP) metadata. Password-protected, damaged and non-PDF input is refused with a short reason;
 * more pages than `maxPages` is refused before any page is read.
 */
export async function pdfToText(input: Uint8Array, maxPages: number | undefined): Promise<PdfText> {
  if (!looksLikePdf(input)) throw DocumentErrors.unreadable('the file is not a PDF');
  let pdf: PdfDocument;
  try {
    // pdf.js takes ownership of (detaches) the buffer it is given, so it gets a copy.
    pdf = await getDocumentProxy(input.slice(), { verbosity: ERRORS_ONLY });
  } catch (error) {
    throw unreadable(error);
  }
  try {
    if (maxPages !== undefined && pdf.numPages > maxPages) {
      throw DocumentErrors.unreadable(`the PDF has ${pdf.numPages} pages, more than the ${maxPages} allowed`);
    }
    let pages: string[];
    try {
      pages = (await extractText(pdf, { mergePages: false })).text;
    } catch (error) {
      throw unreadable(error);
    }
    const text = pages.map((page) => normalizeText(page).trim()).filter((page) => page !== '').join('\n\n');
    return { text, title: await pdfTitle(pdf), pages: pdf.numPages };
  } finally {
    // Frees pdf.js's parsed objects and font data for this document.
    await pdf.loadingTask.destroy().catch(() => undefined);
  }
}

/** A PDF header (`%PDF-`) within the first KiB, where readers accept it. */
function looksLikePdf(input: Uint8Array): boolean {
  const head = new TextDecoder('latin1').decode(input.subarray(0, 1024));
  return head.includes('%PDF-');
}

async function pdfTitle(pdf: PdfDocument): Promise<string | null> {
  try {
    const { info, metadata } = await getMeta(pdf);
    // XMP metadata is an object with get() only when the PDF has an XMP stream.
    const xmp = typeof metadata?.get === 'function' ? metadata.get('dc:title') : undefined;
    for (const candidate of [info['Title'], xmp]) {
      if (typeof candidate !== 'string') continue;
      const title = normalizeText(candidate).replace(/\s+/g, ' ').trim();
      if (title !== '') return title;
    }
  } catch {
    // Metadata is optional; broken metadata must not cost the text.
  }
  return null;
}

/** pdf.js errors → a reason a person can act on; never the stack or pdf.js internals. */
function unreadable(error: unknown) {
  if (DocumentErrors.unreadable.is(error)) return error;
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  const reason = name === 'PasswordException' ? 'the PDF is encrypted (password-protected)'
    : name === 'InvalidPDFException' ? 'the PDF is damaged or not a PDF'
      : 'the PDF is damaged or uses features that cannot be read';
  return DocumentErrors.unreadable(reason, { cause: error });
}
