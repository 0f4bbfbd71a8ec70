import { resolve } from 'node:path';
import type { ChatRequest, Provider, ProviderStreamEvent } from '../provider.ts';
import { ProviderError } from '../provider-error.ts';
import {
  assertLocallySupported,
  localIgnoredSettings,
  toChatHistory,
  toFinishReason,
  toGenerationOptions,
} from './chat-request-mapping.ts';
import { AsyncQueue } from '../../lib/async-queue.ts';
import { llamaRuntime, type LocalLogger } from './llama-runtime.ts';
import { LoadedModel } from './loaded-model.ts';
import { listLocalModelFiles, resolveLocalModelPath } from './local-model-files.ts';
import { localContextSize } from './local-models.ts';
import { TextBatches } from './text-batches.ts';

export { listLocalModelFiles, resolveLocalModelPath, type LocalModelFile } from './local-model-files.ts';

export interface LocalProviderOptions {
  /** Folder holding the GGUF files (config `modelsDir`, CAUSERIE_MODELS_DIR). */
  modelsDir: string;
  /** CPU threads per model (config `localThreads`, CAUSERIE_LOCAL_THREADS). */
  threads: number;
  logger?: LocalLogger;
  /** Requests generated side by side on one model; more wait their turn in a FIFO queue. */
  parallelRequests?: number;
  /** Tokens per request (prompt + answer), capped by what the model was trained on. */
  contextSize?: number;
  /** Provider id in the registry. */
  id?: string;
  /**
   * Text written less than this apart goes out as one event (default 10 ms; 0 sends every token
   * on its own). See text-batches.ts.
   */
  textBatchMs?: number;
}

/** How late a local model's text may go out, gathered with what follows it (decision 027). */
export const localTextBatchMs = 10;

/** A Provider whose optional parts are all there: local models count tokens, list files, unload. */
export type LocalProvider = Provider &
  Required<Pick<Provider, 'countTokens' | 'listModels' | 'close'>> & { readonly kind: 'local' };

/**
 * Runs GGUF models in process with node-llama-cpp. A model loads on its first request and stays
 * loaded; the chat template comes from the GGUF. Aborting the signal (or leaving the stream) stops
 * generation at the next token, and usage counts come from the model's own tokenizer.
 */
export function createLocalProvider(options: LocalProviderOptions): LocalProvider {
  const parallelRequests = options.parallelRequests ?? 2;
  const contextSize = options.contextSize ?? localContextSize;
  const loaded = new Map<string, Promise<LoadedModel>>();
  let closed = false;

  // A model's file is looked up once: requests for a loaded model then reach its FIFO queue in
  // the order they arrived (file-system lookups finish in any order).
  const paths = new Map<string, string>();
  const id = options.id ?? 'local';

  async function load(model: string): Promise<LoadedModel> {
    if (closed) throw new ProviderError(id, 'unavailable', 'The local provider is shutting down');
    const path = paths.get(model) ?? (await resolveLocalModelPath(options.modelsDir, model));
    if (!path) {
      throw new ProviderError(
        id,
        'unavailable',
        `The local model file "${model}" is not in the models folder; download it with "npx causerie models pull"`,
      );
    }
    let pending = loaded.get(path);
    if (!pending) {
      pending = (async () => {
        const { module, llama } = await llamaRuntime(options.logger);
        const result = await LoadedModel.load(llama, path, {
          threads: options.threads,
          sequences: parallelRequests,
          contextSize,
          resolveChatWrapper: (llamaModel) => module.resolveChatWrapper(llamaModel),
        });
        options.logger?.info(
          {
            model,
            contextSize: result.contextSize,
            parallelRequests,
            threads: options.threads,
            chatTemplate: result.chatWrapper.wrapperName,
          },
          'local model loaded',
        );
        return result;
      })();
      loaded.set(path, pending);
      paths.set(model, path);
      pending.catch(() => {
        loaded.delete(path);
        paths.delete(model);
      });
    }
    try {
      return await pending;
    } catch (error) {
      // The reason is shown to API clients: never with the server's folders in it.
      const reason = (error as Error).message.replaceAll(path, model).replaceAll(resolve(options.modelsDir), 'models');
      throw new ProviderError(id, 'unavailable', `The local model "${model}" could not be loaded: ${reason}`, {
        cause: error,
      });
    }
  }

  async function generate(
    model: LoadedModel,
    request: ChatRequest,
    prepared: Prepared,
    signal: AbortSignal,
    channel: AsyncQueue<ProviderStreamEvent>,
  ) {
    const { module } = await llamaRuntime(options.logger);
    const text = new TextBatches(
      (piece) => channel.push({ type: 'text-delta', text: piece }),
      options.textBatchMs ?? localTextBatchMs,
    );
    const finish = (
      promptTokens: number,
      completionTokens: number,
      reason: 'cancelled' | ReturnType<typeof toFinishReason>,
    ) => {
      // Text gathered before the end (a stop included) goes out first: it is stored and charged.
      text.flush();
      channel.push({ type: 'usage', usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens } });
      channel.push({ type: 'finish', reason });
    };
    const sequence = await model.acquire(signal).catch(() => undefined);
    if (!sequence) {
      // Aborted while waiting for a turn: nothing was evaluated, nothing is charged.
      finish(0, 0, 'cancelled');
      return channel.end();
    }
    const chat = new module.LlamaChat({ contextSequence: sequence, chatWrapper: model.chatWrapper });
    const meterBefore = sequence.tokenMeter.getState();
    const generated = () => sequence.tokenMeter.diff(meterBefore).usedOutputTokens;
    try {
      const response = await chat.generateResponse(prepared.history, {
        ...toGenerationOptions(request, prepared.maxTokens),
        signal,
        // Once text has started, an abort returns what exists instead of throwing.
        stopOnAbortSignal: true,
        onTextChunk: (piece) => {
          if (piece) text.add(piece);
        },
      });
      finish(prepared.promptTokens, generated(), toFinishReason(response.metadata.stopReason));
    } catch (error) {
      if (signal.aborted) finish(prepared.promptTokens, generated(), 'cancelled');
      else {
        options.logger?.warn({ err: error, model: request.model }, 'local generation failed');
        text.flush();
        channel.push({
          type: 'error',
          error: new ProviderError(id, 'failed', `The local model failed: ${(error as Error).message}`, {
            cause: error,
          }),
        });
      }
    } finally {
      text.drop();
      chat.dispose({ disposeSequence: false });
      model.release(sequence);
      channel.end();
    }
  }

  interface Prepared {
    history: ReturnType<typeof toChatHistory>;
    promptTokens: number;
    maxTokens: number;
  }

  return {
    id,
    kind: 'local',

    async stream(request, { signal }) {
      assertLocallySupported(id, request);
      const history = toChatHistory(id, request.messages);
      const model = await load(request.model);
      const promptTokens = model.countPromptTokens(history);
      const room = model.contextSize - promptTokens;
      if (room < 1) {
        throw new ProviderError(
          id,
          'rejected',
          `messages: the conversation takes ${promptTokens} tokens; this local model holds ${model.contextSize} (prompt and answer together)`,
          { field: 'messages' },
        );
      }
      // An answer cannot outgrow the context: max_tokens beyond the room left ends with "length".
      // node-llama-cpp reads maxTokens 0 as "no limit": never pass it on.
      if (request.max_tokens !== undefined && !(request.max_tokens >= 1))
        throw new ProviderError(id, 'rejected', 'max_tokens: must be at least 1', { field: 'max_tokens' });
      const prepared: Prepared = {
        history,
        promptTokens,
        maxTokens: Math.min(Math.floor(request.max_tokens ?? room), room),
      };
      const stop = abortedWith(signal);
      const channel: AsyncQueue<ProviderStreamEvent> = new AsyncQueue<ProviderStreamEvent>({
        start: () =>
          void generate(model, request, prepared, stop.signal, channel)
            .catch((error: unknown) => {
              channel.push({
                type: 'error',
                error: new ProviderError(id, 'failed', 'The local generation could not start', { cause: error }),
              });
              channel.end();
            })
            .finally(stop.detach),
        onClose: () => {
          stop.abort(new Error('the stream was closed by its reader'));
          stop.detach();
        },
      });
      return channel;
    },

    ignoredSettings: localIgnoredSettings,

    async embed(input, modelName, { signal }) {
      const model = await load(modelName);
      let embeddings: number[][];
      try {
        embeddings = await model.embed(input, signal);
      } catch (error) {
        if (signal.aborted) throw error;
        if (/longer than the context/.test((error as Error).message))
          throw new ProviderError(
            id,
            'rejected',
            `input: a text is longer than ${model.contextSize} tokens, the most this local model embeds at once`,
            { field: 'input' },
          );
        throw new ProviderError(id, 'failed', `The local model could not embed: ${(error as Error).message}`, {
          cause: error,
        });
      }
      const tokens = input.reduce((sum, text) => sum + model.countTokens(text), 0);
      return { embeddings, usage: { prompt_tokens: tokens, completion_tokens: 0 } };
    },

    async countTokens(text, modelName) {
      const model = await load(modelName);
      return model.countTokens(text);
    },

    async listModels() {
      return (await listLocalModelFiles(options.modelsDir, { contextSize })).map((file) => file.file);
    },

    async close() {
      closed = true;
      const models = await Promise.allSettled([...loaded.values()]);
      loaded.clear();
      paths.clear();
      for (const result of models) if (result.status === 'fulfilled') await result.value.dispose();
    },
  };
}

/**
 * A plain signal that aborts with `source` or when told to. node-llama-cpp reads `aborted` several
 * times per token, and a signal made by `AbortSignal.any` walks its sources on every read (0.1 µs
 * against 0.005 on Node 24, more when a source is itself combined): about 1 % of the main thread's
 * time per token in a profile of a tiny model, for nothing.
 */
function abortedWith(source: AbortSignal) {
  const controller = new AbortController();
  const follow = () => controller.abort(source.reason);
  if (source.aborted) follow();
  else source.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    abort: (reason: Error) => controller.abort(reason),
    /** Stops following the source (the request's signal outlives the generation). */
    detach: () => source.removeEventListener('abort', follow),
  };
}
