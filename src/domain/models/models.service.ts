import type { ModelSummary } from '../../web/pages.ts';

/** The model registry (issue 3 fills it from providers and config). */
export class ModelsService {
  async summaries(): Promise<ModelSummary[]> {
    return [];
  }
}
