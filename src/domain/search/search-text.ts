/**
 * Text handling shared by both databases, so French and English match alike everywhere:
 * lower case, diacritics removed ("élève" = "eleve"), words are runs of letters and digits.
 */

const marks = /\p{M}+/gu;
const word = /[\p{L}\p{N}]+/gu;

/** Lower case without diacritics: what is indexed and what a query is compared with. */
export function fold(text: string): string {
  return text.normalize('NFD').replace(marks, '').toLowerCase();
}

/**
 * The text PostgreSQL indexes: the folded words separated by spaces, so its parser sees the same
 * words a query is split into (it would otherwise keep "3.14" or an e-mail address whole).
 */
export function indexedWords(text: string): string {
  return (fold(text).match(word) ?? []).join(' ');
}

/** At most this many words of a query are searched for (a pasted page is not a query). */
const maxQueryWords = 32;

/** The distinct folded words of a query, in order. */
export function queryWords(q: string): string[] {
  return [...new Set(fold(q).match(word) ?? [])].slice(0, maxQueryWords);
}

/** An FTS5 query: every word (quoted, so no word is read as an operator) in the user's rows. */
export function ftsQuery(words: string[], userId: number): string {
  return `owner:u${userId} AND (${words.map((w) => `"${w}"`).join(' AND ')})`;
}

/** A PostgreSQL tsquery text for the `simple` configuration: every word. Words hold only letters and digits. */
export function tsQuery(words: string[]): string {
  return words.map((w) => `'${w}'`).join(' & ');
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => escapes[c]!);

/** Characters of context on each side of the first match. */
const snippetRadius = 80;

/**
 * A short excerpt around the first matched word, HTML-escaped, with every matched word wrapped in
 * <mark>...</mark>. Without a match (a semantic hit), the start of the text.
 */
export function snippet(content: string, words: string[]): string {
  const wanted = new Set(words);
  const spans: Array<[number, number]> = [];
  // Scan a bounded prefix: a message may hold a million characters.
  const text = content.length > 200_000 ? content.slice(0, 200_000) : content;
  for (const match of text.matchAll(word)) {
    if (wanted.has(fold(match[0]))) spans.push([match.index, match.index + match[0].length]);
  }
  const first = spans[0]?.[0] ?? 0;
  let start = Math.max(0, first - snippetRadius);
  let end = Math.min(text.length, (spans[0]?.[1] ?? 0) + snippetRadius * 2);
  // Cut at spaces so no word is halved.
  if (start > 0) start = text.indexOf(' ', start) + 1 || start;
  if (end < text.length) end = text.lastIndexOf(' ', end) > start ? text.lastIndexOf(' ', end) : end;
  let out = start > 0 ? '\u2026' : '';
  let at = start;
  for (const [from, to] of spans) {
    if (from < start || to > end) continue;
    out += `${escapeHtml(text.slice(at, from))}<mark>${escapeHtml(text.slice(from, to))}</mark>`;
    at = to;
  }
  out += escapeHtml(text.slice(at, end));
  if (end < content.length) out += '\u2026';
  return out.replace(/\s+/g, ' ').trim();
}

/** Reciprocal rank fusion: each list adds 1/(k + rank) per id; the usual k is 60. */
export function fuseRanks(lists: number[][], k = 60): Array<{ id: number; score: number }> {
  const scores = new Map<number, number>();
  for (const list of lists)
    for (const [index, id] of list.entries()) scores.set(id, (scores.get(id) ?? 0) + 1 / (k + index + 1));
  return [...scores].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score || a.id - b.id);
}
