import { relative, resolve } from 'node:path';
import { defaultLocalModel, localModelId } from '../providers/local/local-models.ts';
import type { OutboundPolicy } from '../providers/web/connect-guard.ts';
import {
  DownloadError,
  downloadModel,
  formatMegabytes,
  type ModelSource,
  ModelUriError,
  resolveModelSource,
  UnreachableError,
  type DownloadProgress,
} from '../providers/local/model-download.ts';

/** Where the command writes: progress and errors on `stderr`, the result on `stdout`. */
export interface Terminal {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
}

/**
 * Draws the progress: a bar redrawn in place on a terminal, or a plain line at each tenth of the
 * file (at least every 30 seconds) when stderr is a log or a pipe.
 */
function progressReporter(fileName: string, stderr: Terminal['stderr'], now: () => number) {
  const started = now();
  let lastDraw = 0;
  let lastLineTenth = -1;
  let lastLineAt = started;
  let drewBar = false;
  const describe = ({ received, total, resumedFrom }: DownloadProgress) => {
    const seconds = Math.max((now() - started) / 1000, 0.001);
    const speed = `${formatMegabytes((received - resumedFrom) / seconds)}/s`;
    const size = total ? `${formatMegabytes(received)} of ${formatMegabytes(total)}` : formatMegabytes(received);
    const percent = total ? Math.floor((received / total) * 100) : undefined;
    return { percent, size, speed };
  };
  return {
    update(progress: DownloadProgress, final = false) {
      const { percent, size, speed } = describe(progress);
      if (stderr.isTTY) {
        if (!final && now() - lastDraw < 100) return;
        lastDraw = now();
        const width = 24;
        const filled = percent === undefined ? 0 : Math.round((percent / 100) * width);
        const bar =
          percent === undefined
            ? ''
            : `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(percent).padStart(3)}%  `;
        stderr.write(`\r${bar}${size}  ${speed}\u001b[K`);
        drewBar = true;
        if (final) stderr.write('\n');
        return;
      }
      const tenth = percent === undefined ? -1 : Math.floor(percent / 10);
      if (final || tenth > lastLineTenth || now() - lastLineAt >= 30_000) {
        lastLineTenth = Math.max(tenth, lastLineTenth);
        lastLineAt = now();
        stderr.write(`${fileName}: ${percent === undefined ? '' : `${percent}% `}(${size}, ${speed})\n`);
      }
    },
    /** Ends a half-drawn bar so an error message starts on its own line. */
    interrupt() {
      if (drewBar) stderr.write('\n');
    },
  };
}

/**
 * `causerie models pull [<uri>]`: downloads a GGUF model into the models folder (the default
 * local model when no URI is given). Returns the exit code; every failure is one line on stderr.
 */
export async function pullModel(options: {
  uri?: string;
  modelsDir: string;
  terminal: Terminal;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  outbound?: OutboundPolicy;
  now?: () => number;
}): Promise<number> {
  const { terminal, modelsDir } = options;
  const now = options.now ?? Date.now;
  const uri = options.uri ?? defaultLocalModel.uri;
  const fail = (message: string) => {
    terminal.stderr.write(`causerie: ${message}\n`);
    return 1;
  };
  let source: ModelSource;
  try {
    source = resolveModelSource(uri);
  } catch (error) {
    if (error instanceof ModelUriError) return fail(error.message);
    throw error;
  }
  const fromHere = relative(process.cwd(), modelsDir);
  const shownFolder = !fromHere ? '.' : fromHere.startsWith('..') ? resolve(modelsDir) : fromHere;
  const progress = progressReporter(source.fileName, terminal.stderr, now);
  let announced = false;
  try {
    const result = await downloadModel({
      source,
      modelsDir,
      signal: options.signal,
      fetch: options.fetch,
      outbound: options.outbound,
      onProgress: (state) => {
        if (!announced) {
          announced = true;
          const resume = state.resumedFrom > 0 ? `, resuming after ${formatMegabytes(state.resumedFrom)}` : '';
          terminal.stderr.write(`Downloading ${source.fileName} from ${source.host} into ${shownFolder}${resume}\n`);
        }
        progress.update(state);
      },
    });
    if (result.alreadyPresent) {
      terminal.stdout.write(
        `${source.fileName} is already in ${shownFolder} (${formatMegabytes(result.bytes)}); delete it to download it again.\n`,
      );
      return 0;
    }
    progress.update({ received: result.bytes, total: result.bytes, resumedFrom: result.resumedFrom }, true);
    terminal.stdout.write(
      `Saved ${source.fileName} (${formatMegabytes(result.bytes)}) in ${shownFolder}: it is served as model "${localModelId(source.fileName)}".\n`,
    );
    return 0;
  } catch (error) {
    progress.interrupt();
    if (options.signal?.aborted) {
      fail('download stopped; the partial file is kept: run the same command again to resume');
      return 130;
    }
    if (error instanceof UnreachableError || error instanceof DownloadError) return fail(error.message);
    throw error;
  }
}

/** Entry point from the command line: Ctrl-C stops the download cleanly and keeps the .part file. */
export async function runModelsPull(
  uri: string | undefined,
  modelsDir: string,
  outbound?: OutboundPolicy,
): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  try {
    return await pullModel({
      uri,
      modelsDir,
      terminal: { stdout: process.stdout, stderr: process.stderr },
      signal: controller.signal,
      outbound,
    });
  } finally {
    process.off('SIGINT', stop);
  }
}
