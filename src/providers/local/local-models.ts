/**
 * The local model Causerie offers out of the box. It is listed (as not downloaded) even when
 * absent, so GET /api/v1/models tells a newcomer what to pull.
 */
export const defaultLocalModel = {
  /** Public model id. */
  id: 'local/qwen2.5-0.5b-instruct',
  /** File name under the models folder. */
  file: 'qwen2.5-0.5b-instruct-q4_k_m.gguf',
  /** What `npm run models:pull` fetches when given no argument. */
  uri: 'hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf',
  contextWindow: 32_768,
} as const;

/** Public id of a GGUF file found in the models folder: "local/" + its name without ".gguf". */
export const localModelId = (fileName: string) => `local/${fileName.replace(/\.gguf$/i, '')}`;

/**
 * Tokens per request (prompt + answer) the local provider gives a model, unless its GGUF declares
 * less. The KV cache is allocated up front for every parallel request, so the trained context of
 * 32k tokens would cost ~0.8 GB for the default model instead of ~0.1 GB.
 */
export const localContextSize = 4096;
