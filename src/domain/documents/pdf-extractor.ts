import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PdfWorkerInput, PdfWorkerOutput } from './pdf-worker.ts';

export interface PdfLimits {
  /** Pages read at most; the others are left out and the result says so. */
  maxPages: number;
  /** Milliseconds an extraction may take: reading stops at three quarters of it, the worker is killed at all of it. */
  timeoutMs: number;
  /** Heap of one extraction worker, in MB: a PDF built to exhaust memory kills its worker, not the server. */
  maxHeapMb: number;
}

export interface ExtractedPdf {
  pageCount: number;
  /** Text of each page read, in order (pages past a limit are absent). */
  pages: string[];
  truncated: 'pages' | 'time' | null;
}

export type PdfFailure = 'encrypted' | 'corrupt' | 'timeout';

/** Why a PDF could not be read; the message is safe to show. */
export class PdfExtractionError extends Error {
  readonly reason: PdfFailure;
  constructor(reason: PdfFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

const workerUrl = new URL('./pdf-worker.ts', import.meta.url);

/**
 * Extracts a PDF's text off the event loop: each extraction runs in its own worker thread with a
 * heap limit, a page limit and a time limit, so a huge or hostile PDF never delays other requests.
 * Emits 'start' and 'end' (observability, and tests that check requests are served meanwhile).
 */
export class PdfExtractor extends EventEmitter {
  private readonly limits: PdfLimits;
  /** Workers at once: one per core, so many uploads at a time queue instead of multiplying heaps. */
  private readonly maxRunning = Math.max(1, availableParallelism());
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(limits: PdfLimits) {
    super();
    this.limits = limits;
  }

  async extract(data: Uint8Array): Promise<ExtractedPdf> {
    if (this.running >= this.maxRunning) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await this.run(data);
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** One extraction in its own worker; the time limit counts from the worker's start, not from the queue. */
  private run(data: Uint8Array): Promise<ExtractedPdf> {
    const { maxPages, timeoutMs, maxHeapMb } = this.limits;
    // The worker gets its own copy, transferred without a second copy.
    const copy = new Uint8Array(data);
    const input: PdfWorkerInput = { data: copy, maxPages, softDeadline: Date.now() + Math.floor(timeoutMs * 0.75) };
    return new Promise<ExtractedPdf>((resolve, reject) => {
      const worker = new Worker(workerUrl, {
        workerData: input,
        transferList: [copy.buffer as ArrayBuffer],
        resourceLimits: { maxOldGenerationSizeMb: maxHeapMb },
        stdout: true,
        stderr: true,
      });
      // Its console output (pdf.js warnings) is discarded, never mixed into the server's logs.
      worker.stdout.resume();
      worker.stderr.resume();
      this.emit('start');
      let settled = false;
      const settle = (action: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        this.emit('end');
        action();
      };
      const timer = setTimeout(
        () =>
          settle(() =>
            reject(
              new PdfExtractionError('timeout', `reading the PDF took longer than ${Math.round(timeoutMs / 1000)} s`),
            ),
          ),
        timeoutMs,
      );
      worker.once('message', (output: PdfWorkerOutput) =>
        settle(() =>
          output.ok
            ? resolve({ pageCount: output.pageCount, pages: output.pages, truncated: output.truncated })
            : reject(new PdfExtractionError(output.reason, output.message)),
        ),
      );
      worker.once('error', (error) =>
        settle(() =>
          reject(
            new PdfExtractionError(
              'corrupt',
              /memory/i.test(String(error?.message))
                ? 'reading the PDF needed too much memory'
                : 'the PDF could not be read',
            ),
          ),
        ),
      );
      worker.once('exit', () => settle(() => reject(new PdfExtractionError('corrupt', 'the PDF could not be read'))));
    });
  }
}

/** The `%PDF-` signature in the first 1024 bytes (where readers accept it): the content says PDF, whatever the name says. */
export function looksLikePdf(head: Uint8Array): boolean {
  return Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 1024)).includes('%PDF-');
}
