/**
 * A light, line-based reading of markdown structure: headings (ATX `#`..`######` and setext
 * `===`/`---` underlines), paragraphs (blank-line separated) and fenced code blocks (kept whole,
 * and never mistaken for headings). Enough to chunk along the author's structure; not a renderer.
 */

export type BlockKind = 'heading' | 'text' | 'code';

/** A run of non-blank lines, as offsets into the text (end excludes the trailing newline). */
export interface Block {
  start: number;
  end: number;
  kind: BlockKind;
}

export interface Section {
  /** The heading path, e.g. "Setup › Install"; null before the first heading. */
  path: string | null;
  /** The section's own heading text ('' for an empty heading, null before the first heading). */
  title: string | null;
  /** 1..6; 0 before the first heading. */
  level: number;
  /** The section's blocks in order; a headed section starts with its heading block(s). */
  blocks: Block[];
}

export const HEADING_PATH_SEPARATOR = ' › ';

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const BLANK = /^\s*$/;
/** Paragraphs that are really lists, quotes or tables do not become setext headings. */
const NOT_A_SETEXT_PARAGRAPH = /^ {0,3}(?:[-*+][ \t]|\d{1,9}[.)][ \t]|>|\|)/;
const FRONT_MATTER_OPEN = /^---[ \t]*$/;
const FRONT_MATTER_CLOSE = /^(?:---|\.\.\.)[ \t]*$/;

export interface ScanOptions {
  /** Read markdown structure (headings, fences, front matter); false: blank-line paragraphs only. */
  markdown: boolean;
}

/** Splits text into sections (one per heading) of blocks, covering every non-blank line. */
export function scanSections(text: string, options: ScanOptions): Section[] {
  const sections: Section[] = [{ path: null, title: null, level: 0, blocks: [] }];
  const stack: Array<{ level: number; title: string }> = [];
  let current = sections[0]!;
  let block: Block | null = null;
  let fence: { char: string; length: number } | null = null;

  const closeBlock = () => {
    if (block !== null) current.blocks.push(block);
    block = null;
  };
  const openSection = (level: number, title: string, headingBlock: Block) => {
    while (stack.length > 0 && stack.at(-1)!.level >= level) stack.pop();
    stack.push({ level, title });
    const path = stack.map((h) => h.title).filter((t) => t !== '').join(HEADING_PATH_SEPARATOR);
    current = { path: path === '' ? null : path, title, level, blocks: [headingBlock] };
    sections.push(current);
  };

  let pos = 0;
  if (options.markdown) pos = skipFrontMatter(text, current);

  while (pos <= text.length) {
    let lineEnd = text.indexOf('\n', pos);
    if (lineEnd === -1) lineEnd = text.length;
    const line = text.slice(pos, lineEnd);
    const open: Block | null = block;

    if (fence !== null) {
      open!.end = lineEnd;
      if (closesFence(line, fence)) {
        fence = null;
        closeBlock();
      }
    } else if (BLANK.test(line)) {
      closeBlock();
    } else if (!options.markdown) {
      if (open === null) block = { start: pos, end: lineEnd, kind: 'text' };
      else open.end = lineEnd;
    } else if (ATX.test(line)) {
      closeBlock();
      const match = ATX.exec(line)!;
      openSection(match[1]!.length, (match[2] ?? '').trim(), { start: pos, end: lineEnd, kind: 'heading' });
    } else if (open !== null && open.kind === 'text' && SETEXT.test(line) && !NOT_A_SETEXT_PARAGRAPH.test(text.slice(open.start, pos))) {
      // The paragraph above the underline is the heading; it opens the new section.
      const title = text.slice(open.start, pos).split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' ');
      block = null;
      openSection(line.trim().startsWith('=') ? 1 : 2, title, { start: open.start, end: lineEnd, kind: 'heading' });
    } else if (opensFence(line) !== null) {
      closeBlock();
      fence = opensFence(line);
      block = { start: pos, end: lineEnd, kind: 'code' };
    } else if (open === null) {
      block = { start: pos, end: lineEnd, kind: 'text' };
    } else {
      open.end = lineEnd;
    }

    if (lineEnd === text.length) break;
    pos = lineEnd + 1;
  }
  closeBlock();
  return mergeBareHeadings(sections);
}

function opensFence(line: string): { char: string; length: number } | null {
  const match = FENCE.exec(line);
  if (match === null) return null;
  const marker = match[1]!;
  // A backtick fence's info string cannot contain backticks (that is inline code instead).
  if (marker[0] === '`' && line.slice(match[0].length).includes('`')) return null;
  return { char: marker[0]!, length: marker.length };
}

function closesFence(line: string, fence: { char: string; length: number }): boolean {
  const match = FENCE.exec(line);
  return match !== null && match[1]![0] === fence.char && match[1]!.length >= fence.length && BLANK.test(line.slice(match[0].length));
}

/** YAML front matter (`---` … `---` at the very start) is one plain block, not a setext heading. */
function skipFrontMatter(text: string, first: Section): number {
  const firstLineEnd = text.indexOf('\n');
  if (firstLineEnd === -1 || !FRONT_MATTER_OPEN.test(text.slice(0, firstLineEnd))) return 0;
  let pos = firstLineEnd + 1;
  while (pos < text.length) {
    let lineEnd = text.indexOf('\n', pos);
    if (lineEnd === -1) lineEnd = text.length;
    if (FRONT_MATTER_CLOSE.test(text.slice(pos, lineEnd))) {
      first.blocks.push({ start: 0, end: lineEnd, kind: 'text' });
      return lineEnd + 1;
    }
    pos = lineEnd + 1;
  }
  return 0;
}

/**
 * A heading with nothing under it but a deeper heading ("# Guide" straight before "## Setup") joins
 * that subsection rather than becoming a chunk of its own: the subsection's path names it anyway.
 */
function mergeBareHeadings(sections: Section[]): Section[] {
  const out: Section[] = [];
  let pending: Block[] = [];
  for (let i = 0; i < sections.length; i++) {
    const section = sections[i]!;
    const blocks = pending.length > 0 ? [...pending, ...section.blocks] : section.blocks;
    pending = [];
    const next = sections[i + 1];
    const bare = section.level > 0 && blocks.every((b) => b.kind === 'heading');
    if (bare && next !== undefined && next.level > section.level) {
      pending = blocks;
      continue;
    }
    if (blocks.length > 0) out.push({ ...section, blocks });
  }
  return out;
}

/** The first level-1 heading's text (`# Title` or a `===` underline), or null. */
export function firstLevelOneHeading(text: string): string | null {
  // Read the lines, not the sections: a heading followed directly by a sub-heading has no section of its own.
  let fenced = false;
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (/^\s{0,3}(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const atx = /^\s{0,3}#[ \t]+(.+?)[ \t]*#*[ \t]*$/.exec(line);
    if (atx) return atx[1]!.trim() || null;
    if (line.trim() !== '' && /^\s{0,3}=+\s*$/.test(lines[i + 1] ?? '')) return line.trim();
  }
  return null;
}
