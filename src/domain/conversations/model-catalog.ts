import { estimatingCounter, tokenCounterOf } from '../completions/token-budget.ts';
import type { ModelsService } from '../models/models.service.ts';
import type { ModelCatalog } from './conversations.types.ts';

/** The conversation service's view of the model registry. */
export function modelCatalogFrom(models: ModelsService, configuredDefault?: string): Required<ModelCatalog> {
  const find = async (id: string) => (await models.list()).find((model) => model.id === id);
  return {
    contextWindow: async (id) => (await find(id))?.context_window ?? undefined,
    exists: async (id) => (await find(id)) !== undefined,
    // A model that cannot serve now is estimated: the completion then fails with the reason anyway.
    tokenCounter: async (id) => {
      const resolved = await models.resolve(id).catch(() => undefined);
      return resolved ? tokenCounterOf(resolved.provider, resolved.entry.upstream) : estimatingCounter;
    },
    // The first model that can chat now; embedding-only models cannot answer a conversation.
    defaultModel: async () =>
      configuredDefault ??
      (await models.list()).find((model) => model.available && model.capabilities.includes('chat'))?.id,
  };
}
