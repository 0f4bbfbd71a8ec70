import type { ModelsService } from '../models/models.service.ts';
import type { ModelCatalog } from './conversations.types.ts';

/** The conversation service's view of the model registry. */
export function modelCatalogFrom(models: ModelsService, configuredDefault?: string): ModelCatalog {
  return {
    contextWindow: async () => undefined,
    exists: async (id) => (await models.summaries()).some((model) => model.id === id),
    defaultModel: async () => configuredDefault ?? (await models.summaries()).find((model) => model.available)?.id,
  };
}
