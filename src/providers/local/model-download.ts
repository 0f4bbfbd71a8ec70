import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { defaultOutboundPolicy, guardedAgent, refusalOf, type OutboundPolicy } from '../web/connect-guard.ts';

/** Where a model URI points, and the file name it gets in the models folder. */
export interface ModelSource {
  url: string;
  fileName: string;
  /** Shown in messages ("cannot reach huggingface.co"). */
  host: string;
}

/** The URI is neither `hf:<user>/<repo>/<file>` nor an http(s) URL. */
export class ModelUriError extends Error {}

/** The server could not be reached at all (no network, DNS failure, refused connection). */
export class UnreachableError extends Error {
  readonly host: string;
  readonly reason: string;
  constructor(host: string, reason: string) {
    super(`cannot reach ${host} (no network?): ${reason}`);
    this.host = host;
    this.reason = reason;
  }
}

/** The server answered, but not with the file, or the transfer broke off (the .part file stays). */
export class DownloadError extends Error {}

/**
 * Resolves `hf:<user>/<repo>/<path/to/file.gguf>` (optionally `@<revision>` after the repository)
 * to Hugging Face's download URL, and accepts plain http(s) URLs, including Hugging Face "blob"
 * page links, which are rewritten to their download form.
 */
export function resolveModelSource(uri: string): ModelSource {
  const huggingFace = /^(?:hf:|huggingface:)([^/\s]+)\/([^/@\s]+)(?:@([^/\s]+))?\/(.+)$/.exec(uri);
  if (huggingFace) {
    const [, user, repo, revision = 'main', file] = huggingFace as unknown as [
      string,
      string,
      string,
      string | undefined,
      string,
    ];
    const path = file.split('/').map(encodeURIComponent).join('/');
    return {
      url: `https://huggingface.co/${user}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`,
      fileName: file.split('/').at(-1)!,
      host: 'huggingface.co',
    };
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new ModelUriError(`"${uri}" is neither a Hugging Face URI (hf:<user>/<repo>/<file>.gguf) nor an http(s) URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ModelUriError(`"${uri}": only hf:, https: and http: sources are supported`);
  if (url.hostname === 'huggingface.co')
    url.pathname = url.pathname.replace(/^(\/[^/]+\/[^/]+)\/blob\//, '$1/resolve/');
  const fileName = decodeURIComponent(url.pathname.split('/').at(-1) ?? '');
  if (!fileName || fileName.includes('\\') || fileName.startsWith('.'))
    throw new ModelUriError(`"${uri}" does not end with a file name`);
  return { url: url.toString(), fileName, host: url.host };
}

export interface DownloadProgress {
  /** Bytes in the file so far, including what an earlier attempt left. */
  received: number;
  /** Size of the whole file, when the server says. */
  total: number | undefined;
  /** Bytes already there when this attempt started (a resume). */
  resumedFrom: number;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  resumedFrom: number;
  /** The file was already complete in the folder: nothing was downloaded. */
  alreadyPresent: boolean;
}

/** Low-level reasons that mean "no connection at all", as opposed to an HTTP answer. */
function unreachableReason(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (error as { code?: string }).code;
  if (
    code &&
    /^(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ENETUNREACH|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET)$/.test(
      code,
    )
  ) {
    return cause?.message ?? code;
  }
  if (error instanceof TypeError && /fetch failed/.test(error.message)) return cause?.message ?? error.message;
  return undefined;
}

const contentRangeTotal = (header: string | null) => {
  const match = header ? /\/(\d+)\s*$/.exec(header) : null;
  return match ? Number(match[1]) : undefined;
};
const contentRangeStart = (header: string | null) => {
  const match = header ? /^bytes\s+(\d+)-/.exec(header) : null;
  return match ? Number(match[1]) : undefined;
};

/**
 * Downloads `source` into `modelsDir/<fileName>`. Bytes go to `<fileName>.part` first, which is
 * renamed only once complete; a later call finds the .part file and asks for the rest with an HTTP
 * Range request (a server that ignores Range sends the whole file again, which is handled too).
 */
export async function downloadModel(options: {
  source: ModelSource;
  modelsDir: string;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Where the download (and each redirect) may connect; default: no link-local or metadata address. */
  outbound?: OutboundPolicy;
}): Promise<DownloadResult> {
  if (options.fetch) return download(options, options.fetch);
  // Every connection, redirects included, goes through the SSRF policy.
  const agent = guardedAgent(options.outbound ?? defaultOutboundPolicy);
  // undici's fetch loads with the first download: all of undici, which a server at rest does not need.
  const { fetch: undiciFetch } = await import('undici');
  const guarded = ((url: string, init: RequestInit) =>
    undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  try {
    return await download(options, guarded);
  } finally {
    await agent.close().catch(() => {});
  }
}

async function download(
  options: Parameters<typeof downloadModel>[0],
  fetchFile: typeof fetch,
): Promise<DownloadResult> {
  const { source, modelsDir, onProgress, signal } = options;
  const path = join(modelsDir, source.fileName);
  const partPath = `${path}.part`;
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isFile()) return { path, bytes: existing.size, resumedFrom: existing.size, alreadyPresent: true };
  await mkdir(modelsDir, { recursive: true });

  let resumedFrom = (await stat(partPath).catch(() => undefined))?.size ?? 0;
  let response: Response;
  try {
    response = await fetchFile(source.url, {
      headers: resumedFrom > 0 ? { range: `bytes=${resumedFrom}-` } : {},
      redirect: 'follow',
      signal,
    });
  } catch (error) {
    const refused = refusalOf(error);
    if (refused) throw new DownloadError(refused.message);
    const reason = unreachableReason(error);
    if (reason) throw new UnreachableError(source.host, reason);
    throw error;
  }

  let total: number | undefined;
  if (response.status === 416 && resumedFrom > 0) {
    // Nothing left to send: the .part file is complete if the server's size matches it.
    await response.body?.cancel();
    if (contentRangeTotal(response.headers.get('content-range')) === resumedFrom) {
      await rename(partPath, path);
      return { path, bytes: resumedFrom, resumedFrom, alreadyPresent: false };
    }
    await rm(partPath, { force: true });
    return download(options, fetchFile);
  }
  if (response.status === 206 && contentRangeStart(response.headers.get('content-range')) === resumedFrom) {
    total = contentRangeTotal(response.headers.get('content-range'));
  } else if (response.status === 200) {
    resumedFrom = 0; // the server ignored Range (or there was none): start over
    const length = Number(response.headers.get('content-length'));
    total = Number.isFinite(length) && length > 0 ? length : undefined;
  } else {
    await response.body?.cancel();
    throw new DownloadError(
      `${source.host} answered ${[response.status, response.statusText].filter(Boolean).join(' ')} for ${source.url}`,
    );
  }
  if (!response.body) throw new DownloadError(`${source.host} sent no body for ${source.url}`);

  let received = resumedFrom;
  onProgress?.({ received, total, resumedFrom });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      onProgress?.({ received, total, resumedFrom });
      callback(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
      counter,
      createWriteStream(partPath, { flags: resumedFrom > 0 ? 'a' : 'w' }),
    );
  } catch (error) {
    if (signal?.aborted) throw error;
    const reason = unreachableReason(error) ?? (error as Error).message;
    throw new DownloadError(
      `the download stopped after ${formatMegabytes(received)} (${reason}); run the same command again to resume`,
    );
  }
  if (total !== undefined && received !== total) {
    throw new DownloadError(
      `the download stopped after ${formatMegabytes(received)} of ${formatMegabytes(total)}; run the same command again to resume`,
    );
  }
  await rename(partPath, path);
  return { path, bytes: received, resumedFrom, alreadyPresent: false };
}

export const formatMegabytes = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;
