import { Type } from '../../../lib/type.ts';
import { AppError, invalid } from '../../../domain/errors.ts';
import type { ModelStatus } from '../../../domain/models/models.service.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { clientGone } from '../../client-gone.ts';
import {
  EmbeddingsRequest,
  EmbeddingsResponse,
  OpenAiModel,
  OpenAiModelList,
  openAiErrors,
} from '../../schemas/openai.ts';

// OpenAI lists a creation time; the registry has none, so every model shows the same fixed one.
const created = 1_700_000_000;
const toOpenAiModel = (model: ModelStatus) => ({
  id: model.id,
  object: 'model' as const,
  created,
  owned_by: model.provider,
});

function inputList(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  if (
    Array.isArray(input) &&
    input.length >= 1 &&
    input.length <= 2048 &&
    input.every((item) => typeof item === 'string')
  )
    return input;
  throw invalid('input', 'must be a string or an array of 1 to 2048 strings (token arrays are not supported)');
}

/** GET /v1/models, GET /v1/models/{id} and POST /v1/embeddings, in OpenAI's shapes. */
export function registerOpenAiModelsRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services), config: { surface: 'openai' as const } };
  const tags = ['openai'];

  app.get(
    '/v1/models',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'List the models that can serve now (OpenAI-compatible)',
        response: { 200: OpenAiModelList, ...openAiErrors },
      },
    },
    async () => ({
      object: 'list' as const,
      data: (await services.models.list()).filter((model) => model.available).map(toOpenAiModel),
    }),
  );

  const readModel = async (id: string) => {
    const model = await services.models.get(id);
    if (!model.available) throw new AppError('not_found', `The model "${model.id}" does not exist or cannot serve now`);
    return toOpenAiModel(model);
  };
  const readSchema = {
    tags,
    security,
    summary: 'Read one model (OpenAI-compatible)',
    response: { 200: OpenAiModel, ...openAiErrors },
  };
  app.get(
    '/v1/models/:model',
    {
      ...base,
      schema: {
        ...readSchema,
        params: Type.Object({
          model: Type.String({
            minLength: 1,
            maxLength: 200,
            description: 'Model id; its "/" URL-encoded as %2F or raw',
          }),
        }),
      },
    },
    async (request) => readModel(request.params.model),
  );
  // Model ids contain "/" (mistral/mistral-small-latest): this twin takes them raw.
  app.get(
    '/v1/models/*',
    {
      ...base,
      schema: {
        ...readSchema,
        params: Type.Object({ '*': Type.String({ minLength: 1, maxLength: 200 }) }),
        hide: true,
      },
    },
    async (request) => readModel(request.params['*']),
  );

  app.post(
    '/v1/embeddings',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Create embeddings (OpenAI-compatible)',
        body: EmbeddingsRequest,
        response: { 200: EmbeddingsResponse, ...openAiErrors },
      },
    },
    async (request, reply) => {
      const { model, encoding_format: format } = request.body;
      const result = await services.completions.embed(
        principalOf(request),
        { model, input: inputList(request.body.input) },
        { signal: clientGone(reply) },
      );
      return {
        object: 'list' as const,
        data: result.embeddings.map((vector, index) => ({
          object: 'embedding' as const,
          index,
          // The official client asks for base64 by default: little-endian float32, as OpenAI sends it.
          embedding: format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
        })),
        model: result.model,
        usage: { prompt_tokens: result.usage.prompt_tokens, total_tokens: result.usage.prompt_tokens },
      };
    },
  );
}
