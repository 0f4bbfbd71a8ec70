import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { looksLikePdf, PdfExtractionError, PdfExtractor } from '../../src/domain/documents/pdf-extractor.ts';
import { makeEncryptedPdf, makeManyPagesPdf, makePdf } from '../fixtures/pdfs.ts';

const extractor = (limits: Partial<{ maxPages: number; timeoutMs: number; maxHeapMb: number }> = {}) =>
  new PdfExtractor({ maxPages: 1000, timeoutMs: 30_000, maxHeapMb: 256, ...limits });

const failureOf = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof PdfExtractionError, `expected a PdfExtractionError, got ${String(error)}`);
  return error;
};

describe('PDF text extraction (worker thread)', () => {
  test('reads the text of every page, in order, with the page count', async () => {
    const pdf = await makePdf([['First page, first line.', 'First page, second line.'], [], ['Third page.']]);
    const result = await extractor().extract(pdf);
    assert.equal(result.pageCount, 3);
    assert.deepEqual(result.pages, ['First page, first line.\nFirst page, second line.', '', 'Third page.']);
    assert.equal(result.truncated, null);
  });

  test('an encrypted PDF (an /Encrypt dictionary in the trailer) is reported as encrypted', async () => {
    const error = await failureOf(extractor().extract(await makeEncryptedPdf()));
    assert.equal(error.reason, 'encrypted');
    assert.match(error.message, /encrypted/);
  });

  test('a damaged PDF is reported as such', async () => {
    const error = await failureOf(
      extractor().extract(new TextEncoder().encode('%PDF-1.7\nthis is not really a PDF\n%%EOF')),
    );
    assert.equal(error.reason, 'corrupt');
  });

  test('pages past the page limit are not read, and the result says so', async () => {
    const result = await extractor({ maxPages: 10 }).extract(await makeManyPagesPdf(40));
    assert.equal(result.pageCount, 40);
    assert.equal(result.pages.length, 10);
    assert.equal(result.pages[9], 'Page 10 of a very long report.');
    assert.equal(result.truncated, 'pages');
  });

  test('a PDF that takes longer than the time limit is cut (or refused), never read to the end', async () => {
    const pdf = await makeManyPagesPdf(3000);
    const result = await extractor({ timeoutMs: 200 })
      .extract(pdf)
      .catch((error: PdfExtractionError) => error);
    if (result instanceof PdfExtractionError) assert.equal(result.reason, 'timeout');
    else {
      assert.equal(result.truncated, 'time');
      assert.ok(result.pages.length < 3000);
    }
  });

  test('the signature check looks at the content, within the first 1024 bytes', () => {
    assert.equal(looksLikePdf(new TextEncoder().encode('%PDF-1.4\n…')), true);
    assert.equal(looksLikePdf(new TextEncoder().encode(`${' '.repeat(100)}%PDF-1.4`)), true);
    assert.equal(looksLikePdf(new TextEncoder().encode('<html><body>%PDF-</body></html>'.padStart(2000, ' '))), false);
    assert.equal(looksLikePdf(new TextEncoder().encode('PK\u0003\u0004 a zip named .pdf')), false);
  });

  test('the pdf.js build in use compiles nothing from a PDF into code (no eval, no new Function)', () => {
    const require = createRequire(import.meta.url);
    for (const file of ['pdfjs-dist/legacy/build/pdf.mjs', 'pdfjs-dist/legacy/build/pdf.worker.mjs']) {
      const source = readFileSync(require.resolve(file), 'utf8');
      assert.equal(/\bnew Function\(|\beval\(/.test(source), false, file);
    }
  });
});
