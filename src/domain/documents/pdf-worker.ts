/**
 * Runs in a worker thread (see pdf-extractor.ts): reads a PDF's text page by page with pdf.js,
 * through unpdf, with script evaluation disabled. It stops reading at the page limit or the soft
 * deadline and reports what it read; the parent kills it if it overruns the hard limit anyway.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { definePDFJSModule, getDocumentProxy } from 'unpdf';

export interface PdfWorkerInput {
  data: Uint8Array;
  maxPages: number;
  /** Date.now() after which no further page is read. */
  softDeadline: number;
}

export type PdfWorkerOutput =
  | { ok: true; pageCount: number; pages: string[]; truncated: 'pages' | 'time' | null }
  | { ok: false; reason: 'encrypted' | 'corrupt'; message: string };

/** A page's text: pdf.js text items joined, a line break where the item ends a line. */
function pageText(items: Array<{ str?: string; hasEOL?: boolean }>): string {
  let text = '';
  for (const item of items) text += (item.str ?? '') + (item.hasEOL ? '\n' : '');
  return text.replace(/[ \t]+\n/g, '\n').trim();
}

/**
 * Current pdf.js has no code path that compiles PDF content into JavaScript (the option below went
 * with it; a test checks the build holds no eval); it is kept so an older pdf.js would not either.
 */
const documentOptions = { isEvalSupported: false, verbosity: 0, stopAtErrors: false } as Parameters<
  typeof getDocumentProxy
>[1];

async function extract(input: PdfWorkerInput): Promise<PdfWorkerOutput> {
  // The maintained pdf.js build (pdfjs-dist) rather than the copy bundled in unpdf, so security fixes arrive with it.
  await definePDFJSModule(() => import('pdfjs-dist/legacy/build/pdf.mjs'));
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    pdf = await getDocumentProxy(input.data, documentOptions);
  } catch (error) {
    const name = (error as Error)?.name;
    if (name === 'PasswordException')
      return { ok: false, reason: 'encrypted', message: 'the PDF is encrypted (password-protected)' };
    return { ok: false, reason: 'corrupt', message: 'the PDF is damaged or not a PDF pdf.js can read' };
  }
  const pageCount = pdf.numPages;
  const pages: string[] = [];
  let truncated: 'pages' | 'time' | null = null;
  for (let number = 1; number <= pageCount; number++) {
    if (number > input.maxPages) {
      truncated = 'pages';
      break;
    }
    if (Date.now() > input.softDeadline) {
      truncated = 'time';
      break;
    }
    try {
      const page = await pdf.getPage(number);
      const content = await page.getTextContent();
      pages.push(pageText(content.items as Array<{ str?: string; hasEOL?: boolean }>));
      page.cleanup();
    } catch {
      // One damaged page does not lose the others.
      pages.push('');
    }
  }
  await pdf.cleanup().catch(() => {});
  await pdf.loadingTask.destroy().catch(() => {});
  return { ok: true, pageCount, pages, truncated };
}

extract(workerData as PdfWorkerInput).then(
  (output) => parentPort!.postMessage(output),
  (error: unknown) =>
    parentPort!.postMessage({
      ok: false,
      reason: 'corrupt',
      message: `the PDF could not be read (${(error as Error)?.name ?? 'error'})`,
    } satisfies PdfWorkerOutput),
);
