import type { Dispatcher } from 'undici';
import { discard, guardedGet, isRefusal, type FetchPolicy } from './guarded-fetch.ts';

export interface PageLimits {
  /** The whole fetch of one page (connection, redirects, body), in milliseconds. */
  timeoutMs: number;
  /** Bytes of body read at most; the rest is never downloaded. */
  maxBytes: number;
}

/** What was read of one page: its readable text, or why it was skipped. */
export type PageText =
  | { ok: true; url: string; title?: string; text: string; truncated: boolean }
  | { ok: false; url: string; reason: string };

const htmlTypes = new Set(['text/html', 'application/xhtml+xml']);

/** Whether the page's type is one we can reduce to text: HTML or any text/*. */
const readableType = (type: string) => htmlTypes.has(type) || type.startsWith('text/');

/** Collapses runs of blank space so the text spends the model's context on words. */
const tidy = (text: string) =>
  text
    .replace(/[ \t\f\v\u00a0]+/g, ' ')
    .replace(/\s*\n\s*/g, '\n')
    .replace(/\n{2,}/g, '\n')
    .trim();

// The HTML parser and Readability weigh tens of MiB: loaded with the first page read, not at start-up.
let htmlLibraries: Promise<[typeof import('linkedom'), typeof import('@mozilla/readability')]> | undefined;

/** The readable text of an HTML document: Readability's article when it finds one, else the body's text. */
export async function htmlToText(html: string): Promise<{ title?: string; text: string }> {
  htmlLibraries ??= Promise.all([import('linkedom'), import('@mozilla/readability')]);
  const [{ parseHTML }, { Readability }] = await htmlLibraries;
  // linkedom builds a document only from a whole page: a fragment gets the wrapping it lacks.
  if (!/<html[\s>]/i.test(html)) html = `<!doctype html><html><body>${html}</body></html>`;
  const { document } = parseHTML(html);
  const title = document.title?.trim() || undefined;
  try {
    const article = new Readability(document as unknown as Document).parse();
    if (article?.textContent?.trim()) return { title: article.title?.trim() || title, text: tidy(article.textContent) };
  } catch {}
  // Readability found no article (short pages): fall back to the visible text.
  const { document: fresh } = parseHTML(html);
  for (const node of fresh.querySelectorAll('script, style, noscript, template')) node.remove();
  return { title, text: tidy(fresh.body?.textContent ?? fresh.documentElement?.textContent ?? '') };
}

/** Reads at most `maxBytes` of a body; stops (keeping what came) when the signal aborts. */
async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number, signal: AbortSignal) {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of body) {
      const room = maxBytes - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      if (size >= maxBytes) {
        truncated = true;
        break;
      }
    }
  } catch (error) {
    // Out of time mid-body: what arrived is still worth reading.
    if (!signal.aborted || size === 0) throw error;
    truncated = true;
  } finally {
    body.on('error', () => {});
    body.destroy();
  }
  return { bytes: Buffer.concat(chunks), truncated };
}

/**
 * Fetches one page through the SSRF guard within its time and size limits and reduces it to
 * text. Never throws: a refused, failed, slow or unreadable page is reported as skipped.
 */
export async function readPage(
  url: string,
  policy: FetchPolicy,
  limits: PageLimits,
  parent: AbortSignal,
): Promise<PageText> {
  const signal = AbortSignal.any([parent, AbortSignal.timeout(limits.timeoutMs)]);
  let response: Awaited<ReturnType<typeof guardedGet>>;
  try {
    response = await guardedGet(url, policy, {
      signal,
      connectTimeoutMs: limits.timeoutMs,
      headers: {
        accept: 'text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1',
        'user-agent': 'Causerie web search (+https://github.com/causerie)',
      },
    });
  } catch (error) {
    if (isRefusal(error)) return { ok: false, url, reason: error.message };
    return {
      ok: false,
      url,
      reason: signal.aborted
        ? `no answer within ${limits.timeoutMs} ms`
        : `fetch failed: ${(error as { code?: string }).code ?? (error as Error).message}`,
    };
  }
  try {
    const contentType = String(response.headers['content-type'] ?? '').toLowerCase();
    const type = contentType.split(';')[0]!.trim();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      discard(response.body);
      return { ok: false, url, reason: `answered ${response.statusCode}` };
    }
    if (type && !readableType(type)) {
      discard(response.body);
      return { ok: false, url, reason: `not text (${type})` };
    }
    const { bytes, truncated } = await readCapped(response.body, limits.maxBytes, signal);
    const charset = /charset=([^;]+)/.exec(contentType)?.[1]?.trim().replace(/^"|"$/g, '') ?? 'utf-8';
    let decoded: string;
    try {
      decoded = new TextDecoder(charset).decode(bytes);
    } catch {
      decoded = new TextDecoder('utf-8').decode(bytes);
    }
    const page =
      !type || htmlTypes.has(type) || /^\s*<(!doctype html|html)/i.test(decoded)
        ? await htmlToText(decoded)
        : { text: tidy(decoded) };
    if (!page.text) return { ok: false, url, reason: 'no readable text' };
    return { ok: true, url: response.url, title: page.title, text: page.text, truncated };
  } catch (error) {
    return {
      ok: false,
      url,
      reason: signal.aborted ? `no answer within ${limits.timeoutMs} ms` : `read failed: ${(error as Error).message}`,
    };
  } finally {
    await response.close();
  }
}
