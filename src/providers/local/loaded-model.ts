import type {
  ChatHistoryItem,
  ChatWrapper,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaEmbeddingContext,
  LlamaModel,
} from 'node-llama-cpp';

/**
 * One GGUF model kept in memory with one context split into a few sequences. Each running request
 * holds a sequence; node-llama-cpp evaluates the busy sequences together in shared batches, so
 * they advance side by side. Requests beyond the sequence count wait in a FIFO queue: first come,
 * first served, and a waiter that gives up (abort) leaves the queue at once.
 */
export class LoadedModel {
  readonly path: string;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  /** Resolved once from the GGUF metadata (its chat template, or a known family, or Llama 2). */
  readonly chatWrapper: ChatWrapper;
  readonly #free: LlamaContextSequence[];
  readonly #waiting: {
    resolve: (sequence: LlamaContextSequence) => void;
    reject: (reason: unknown) => void;
    signal: AbortSignal;
    onAbort: () => void;
  }[] = [];
  readonly #threads: number;
  /** Made on the first embedding request; embeddings run one at a time, in arrival order. */
  #embedding: Promise<LlamaEmbeddingContext> | undefined;
  #embeddings: Promise<unknown> = Promise.resolve();

  private constructor(
    path: string,
    model: LlamaModel,
    context: LlamaContext,
    chatWrapper: ChatWrapper,
    sequences: LlamaContextSequence[],
    threads: number,
  ) {
    this.path = path;
    this.model = model;
    this.context = context;
    this.chatWrapper = chatWrapper;
    this.#free = sequences;
    this.#threads = threads;
  }

  static async load(
    llama: Llama,
    path: string,
    options: {
      threads: number;
      sequences: number;
      contextSize: number;
      resolveChatWrapper: (model: LlamaModel) => ChatWrapper;
    },
  ): Promise<LoadedModel> {
    const model = await llama.loadModel({ modelPath: path });
    try {
      const context = await model.createContext({
        sequences: options.sequences,
        contextSize: Math.min(options.contextSize, model.trainContextSize),
        threads: options.threads,
      });
      const sequences = Array.from({ length: options.sequences }, () => context.getSequence());
      return new LoadedModel(path, model, context, options.resolveChatWrapper(model), sequences, options.threads);
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  /** Tokens per sequence: the most a conversation plus its answer can hold. */
  get contextSize(): number {
    return this.context.contextSize;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  countTokens(text: string): number {
    return this.model.tokenize(text).length;
  }

  /** Prompt tokens as the model will see them: the history rendered by the chat template. */
  countPromptTokens(history: ChatHistoryItem[]): number {
    const { contextText } = this.chatWrapper.generateContextState({ chatHistory: history });
    return contextText.tokenize(this.model.tokenizer).length;
  }

  /** Waits (FIFO) for a free sequence; rejects with the signal's reason if aborted first. */
  acquire(signal: AbortSignal): Promise<LlamaContextSequence> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const free = this.#free.pop();
    if (free) return Promise.resolve(free);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.#waiting.indexOf(waiter);
          if (index >= 0) this.#waiting.splice(index, 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** The model's embedding of each text (llama.cpp's pooling of its hidden states). */
  embed(texts: string[], signal: AbortSignal): Promise<number[][]> {
    const run = this.#embeddings.then(async () => {
      this.#embedding ??= this.model.createEmbeddingContext({ contextSize: this.contextSize, threads: this.#threads });
      const context = await this.#embedding;
      const vectors: number[][] = [];
      for (const text of texts) {
        signal.throwIfAborted();
        vectors.push([...(await context.getEmbeddingFor(text)).vector]);
      }
      return vectors;
    });
    this.#embeddings = run.catch(() => {});
    return run;
  }

  release(sequence: LlamaContextSequence) {
    const next = this.#waiting.shift();
    if (!next) {
      this.#free.push(sequence);
      return;
    }
    next.signal.removeEventListener('abort', next.onAbort);
    next.resolve(sequence);
  }

  async dispose() {
    for (const waiter of this.#waiting.splice(0)) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.reject(new Error('the local model was unloaded'));
    }
    await (await this.#embedding?.catch(() => undefined))?.dispose();
    await this.context.dispose();
    await this.model.dispose();
  }
}
