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
