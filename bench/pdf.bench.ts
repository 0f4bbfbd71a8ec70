import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PdfExtractor } from '../src/domain/documents/pdf-extractor.ts';
import { chunkPages } from '../src/domain/documents/chunker.ts';
import { makeManyPagesPdf, makePdf } from '../test/fixtures/pdfs.ts';

/**
 * PDF text extraction: how long a small and a 5,000-page PDF take to read in the worker thread,
 * and how late the main event loop ran meanwhile (what other requests would wait), then chunking.
 */
export async function runPdfBench(): Promise<string[]> {
  const lines = ['pdf: text extraction in a worker thread'];
  const extractor = new PdfExtractor({ maxPages: 100_000, timeoutMs: 600_000, maxHeapMb: 1024 });
  const paragraph =
    'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.';
  const cases: Array<[string, Uint8Array]> = [
    ['20 pages of text', await makePdf(Array.from({ length: 20 }, () => Array.from({ length: 50 }, () => paragraph)))],
    ['5,000 short pages', await makeManyPagesPdf(5000)],
  ];
  for (const [name, pdf] of cases) {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const started = performance.now();
    const result = await extractor.extract(pdf);
    const elapsed = performance.now() - started;
    delay.disable();
    const chunkStart = performance.now();
    const chunks = chunkPages(result.pages, { targetTokens: 400, overlapTokens: 50 });
    const chunking = performance.now() - chunkStart;
    lines.push(
      `  ${name} (${(pdf.byteLength / 1024).toFixed(0)} KB): read in ${elapsed.toFixed(0)} ms; main loop delay max ${(delay.max / 1e6).toFixed(1)} ms, ` +
        `p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms; ${chunks.length} chunks in ${chunking.toFixed(1)} ms`,
    );
  }
  return lines;
}
