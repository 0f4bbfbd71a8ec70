import { estimateTextTokens } from '../completions/token-budget.ts';

export interface ChunkOptions {
  /** Target size of a chunk, in estimated tokens. */
  targetTokens: number;
  /** Tokens of the previous chunk's end repeated at the start of the next, so an idea cut in two is whole in one. */
  overlapTokens: number;
}

export interface TextChunk {
  index: number;
  text: string;
  tokenEstimate: number;
  /** First and last page (1-based) the chunk's text comes from. */
  pageFrom: number;
  pageTo: number;
}

interface Unit {
  text: string;
  page: number;
}

/** Paragraphs of a page: blocks separated by blank lines, else its lines (PDF text rarely has blank lines). */
function paragraphsOf(page: string): string[] {
  const blocks = page
    .split(/\n\s*\n/)
    .map((b) => b.trim())
    .filter(Boolean);
  const units =
    blocks.length > 1
      ? blocks
      : page
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
  return units.map((u) => u.replace(/[ \t]+/g, ' '));
}

/** A unit longer than the target is cut at sentence ends, then at spaces, into pieces that fit. */
function split(unit: Unit, maxChars: number): Unit[] {
  if (unit.text.length <= maxChars) return [unit];
  const pieces: Unit[] = [];
  let rest = unit.text;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars);
    let cut = Math.max(window.lastIndexOf('. '), window.lastIndexOf('? '), window.lastIndexOf('! '));
    if (cut < maxChars / 2) cut = window.lastIndexOf(' ');
    if (cut < maxChars / 2) cut = maxChars - 1;
    pieces.push({ text: rest.slice(0, cut + 1).trim(), page: unit.page });
    rest = rest.slice(cut + 1).trim();
  }
  if (rest) pieces.push({ text: rest, page: unit.page });
  return pieces;
}

/**
 * Cuts a document's pages into chunks of about `targetTokens`, along paragraph boundaries, each
 * starting with the last paragraphs of the previous one (up to `overlapTokens`).
 */
export function chunkPages(pages: string[], options: ChunkOptions): TextChunk[] {
  const maxChars = options.targetTokens * 4;
  const overlapChars = options.overlapTokens * 4;
  const units: Unit[] = pages.flatMap((page, index) =>
    paragraphsOf(page).flatMap((text) => split({ text, page: index + 1 }, maxChars)),
  );
  const chunks: TextChunk[] = [];
  let current: Unit[] = [];
  let length = 0;
  let fresh = 0; // units in `current` not already in the previous chunk
  const flush = () => {
    if (fresh === 0) return;
    const text = current.map((u) => u.text).join('\n');
    chunks.push({
      index: chunks.length,
      text,
      tokenEstimate: estimateTextTokens(text),
      pageFrom: current[0]!.page,
      pageTo: current.at(-1)!.page,
    });
    // Carry the tail over as the next chunk's overlap.
    const carried: Unit[] = [];
    let carriedLength = 0;
    for (let i = current.length - 1; i >= 0; i--) {
      const size = current[i]!.text.length + 1;
      if (carriedLength + size > overlapChars) break;
      carried.unshift(current[i]!);
      carriedLength += size;
    }
    current = carried;
    length = carriedLength;
    fresh = 0;
  };
  for (const unit of units) {
    const size = unit.text.length + 1;
    if (length + size > maxChars && fresh > 0) flush();
    // An overlap too long to share a chunk with the next unit is dropped.
    while (current.length > 0 && length + size > maxChars) length -= current.shift()!.text.length + 1;
    current.push(unit);
    length += size;
    fresh++;
  }
  flush();
  return chunks;
}
