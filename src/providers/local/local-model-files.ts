import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { localContextSize, localModelId } from './local-models.ts';

/** A GGUF file present in the models folder. */
export interface LocalModelFile {
  /** Public model id ("local/" + the name without .gguf). */
  id: string;
  /** File name, what `ChatRequest.model` names. */
  file: string;
  path: string;
  bytes: number;
  /**
   * Tokens a request may use (prompt + answer) when served by the local provider: the provider's
   * context size, or less if the model was trained on less. Undefined if the header is unreadable.
   */
  contextWindow: number | undefined;
}

/** Header reads, by path, size and modification time: a refresh re-reads only changed files. */
const trainedContexts = new Map<string, number | undefined>();

/** The context length the GGUF header declares (node-llama-cpp reads the header only, not the weights). */
async function trainedContextOf(path: string, size: number, modified: number): Promise<number | undefined> {
  const key = `${path}\0${size}\0${modified}`;
  if (trainedContexts.has(key)) return trainedContexts.get(key);
  let context: number | undefined;
  try {
    const { readGgufFileInfo } = await import('node-llama-cpp');
    const info = await readGgufFileInfo(path, {
      readTensorInfo: false,
      logWarnings: false,
      // The vocabulary arrays are most of a header; the context length does not need them.
      ignoreKeys: [
        'tokenizer.ggml.tokens',
        'tokenizer.ggml.scores',
        'tokenizer.ggml.token_type',
        'tokenizer.ggml.merges',
      ],
    });
    const declared = (info.architectureMetadata as { context_length?: unknown } | undefined)?.context_length;
    context = typeof declared === 'number' && declared > 0 ? declared : undefined;
  } catch {
    context = undefined; // not a readable GGUF: still listed, and loading it says why it fails
  }
  trainedContexts.set(key, context);
  return context;
}

/**
 * The GGUF files in `modelsDir` (none when the folder does not exist); partial downloads
 * (`.part`) are left out. `contextSize` is the provider's per-request context (default 4096).
 */
export async function listLocalModelFiles(
  modelsDir: string,
  options: { contextSize?: number } = {},
): Promise<LocalModelFile[]> {
  const contextSize = options.contextSize ?? localContextSize;
  let names: string[];
  try {
    names = await readdir(modelsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files: LocalModelFile[] = [];
  for (const file of names.filter((name) => /\.gguf$/i.test(name)).sort()) {
    const path = join(modelsDir, file);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) continue;
    const trained = await trainedContextOf(path, info.size, info.mtimeMs);
    files.push({
      id: localModelId(file),
      file,
      path,
      bytes: info.size,
      contextWindow: trained === undefined ? undefined : Math.min(trained, contextSize),
    });
  }
  return files;
}

/**
 * Where a model named by the registry lives: an absolute path as is, otherwise a file under
 * modelsDir (".gguf" may be left out). Relative names may not climb out of the folder.
 */
export async function resolveLocalModelPath(modelsDir: string, model: string): Promise<string | undefined> {
  const folder = resolve(modelsDir);
  const base = isAbsolute(model) ? model : resolve(folder, model);
  if (!isAbsolute(model) && relative(folder, base).startsWith('..')) return undefined;
  for (const candidate of /\.gguf$/i.test(base) ? [base] : [base, `${base}.gguf`]) {
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isFile()) return candidate;
  }
  return undefined;
}
