import { resolve } from 'node:path';

/**
 * Where real GGUF weights are looked for: they are never committed, so tests and benchmarks that
 * want real text read them from CAUSERIE_REAL_MODELS_DIR, else from a `shared/models` folder next
 * to the checkout's parent (how the development machines are laid out). Absent weights skip those tests.
 */
export const realModelsDir =
  process.env.CAUSERIE_REAL_MODELS_DIR ?? resolve(import.meta.dirname, '../../../shared/models');
