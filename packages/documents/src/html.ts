import { compile, type FormatCallback, type SelectorDefinition } from 'html-to-text';
import { firstLevelOneHeading } from './markdown-structure.js';

const LEVELS = [1, 2, 3, 4, 5, 6] as const;

/** Headings come out as markdown `#` lines, so the chunker splits at them and names them. */
const heading = (level: number): FormatCallback => (elem, walk, builder) => {
  builder.openBlock({ leadingLineBreaks: 2 });
  builder.addLiteral(`${'#'.repeat(level)} `);
  walk(elem.children, builder);
  builder.closeBlock({ trailingLineBreaks: 2 });
};

/** Preformatted text is fenced, so a `# comment` in a shell listing is not taken for a heading. */
const fencedPre: FormatCallback = (elem, walk, builder) => {
  builder.openBlock({ leadingLineBreaks: 2, isPre: true });
  builder.addLiteral('```\n');
  walk(elem.children, builder);
  builder.addLiteral('\n```');
  builder.closeBlock({ trailingLineBreaks: 2 });
};

/** Not content: code, styling, media, navigation menus and form controls. */
const SKIPPED = ['script', 'style', 'noscript', 'template', 'head', 'nav', 'svg', 'canvas', 'img', 'picture', 'video', 'audio', 'iframe', 'object', 'embed', 'button', 'select'];

const selectors: SelectorDefinition[] = [
  ...LEVELS.map((level) => ({ selector: `h${level}`, format: `h${level}` })),
  { selector: 'pre', format: 'fencedPre' },
  // Links read as their text; the URL is noise for search.
  { selector: 'a', options: { ignoreHref: true } },
  { selector: 'ul', options: { itemPrefix: '- ' } },
  { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
  ...SKIPPED.map((selector) => ({ selector, format: 'skip' })),
];

const convert = compile({
  wordwrap: false,
  // The caller bounds upload sizes; the library's own cut would silently drop the rest.
  limits: { maxInputLength: Number.MAX_SAFE_INTEGER },
  formatters: { ...Object.fromEntries(LEVELS.map((level) => [`h${level}`, heading(level)])), fencedPre },
  selectors,
});

const decodeEntities = compile({ wordwrap: false });

/** HTML → text with `#` headings, fenced code, list dashes and plain tables; title from `<title>` or the first `<h1>`. */
export function htmlToText(html: string): { text: string; title: string | null } {
  const text = convert(html)
    // A heading with no text left (an icon, an image) is no heading.
    .replace(/^#{1,6} *$/gm, '');
  return { text, title: documentTitle(html) ?? firstLevelOneHeading(text) };
}

function documentTitle(html: string): string | null {
  const match = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  if (match === null) return null;
  // <title> is text with entities (RCDATA): escape '<' so the converter cannot read it as tags.
  const title = decodeEntities(match[1]!.replace(/</g, '&lt;')).replace(/\s+/g, ' ').trim();
  return title === '' ? null : title;
}
