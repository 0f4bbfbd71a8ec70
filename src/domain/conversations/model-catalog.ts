import type { ModelsService } from '../models/models.service.ts';
import type { ModelCatalog } from './conversations.types.ts';

/** The conversation service's view of the model registry. */
export function modelCatalogFrom(models: ModelsService, configuredDefault?: string): ModelCatalog {
  const find = async (id: string) => (await models.list()).find((model) => model.id === id);
  return {
    contextWindow: async (id) => (await find(id))?.context_window ?? undefined,
    exists: async (id) => (await find(id)) !== undefined,
    // The first model that can chat now; embedding-only models cannot answer a conversation.
    defaultModel: async () =>
      configuredDefault ??
      (await models.list()).find((model) => model.available && model.capabilities.includes('chat'))?.id,
  };
}
