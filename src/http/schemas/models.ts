import type { Static } from 'typebox';
import { Type } from '../../lib/type.ts';
import type { ModelStatus } from '../../domain/models/models.service.ts';
import { GenerationSettingsFields, Nullable } from './common.ts';

export const ModelBody = Type.Object({
  id: Type.String({
    description: 'Public model id, "<provider>/<model>" (URL-encode the "/" in paths, or leave it: both work)',
  }),
  provider: Type.String(),
  upstream_model: Type.String({
    description: 'The name the provider knows the model by (for local models, the GGUF file)',
  }),
  available: Type.Boolean({ description: 'Whether a completion can run now' }),
  status: Type.Union([
    Type.Literal('available'),
    Type.Literal('not_downloaded'),
    Type.Literal('downloading'),
    Type.Literal('not_configured'),
  ]),
  progress: Type.Optional(
    Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'While downloading: the fraction received (0.42), when the size is known',
    }),
  ),
  reason: Nullable(Type.String({ description: 'When not available: why, and what to do' })),
  context_window: Nullable(Type.Integer({ description: 'Tokens of context (prompt + answer), when known' })),
  capabilities: Type.Array(Type.String(), {
    description: 'chat, embeddings, tools, \u2026 (informational: from the config, or guessed for discovered models)',
  }),
  prices: Nullable(
    Type.Object({
      input_per_million: Type.Number(),
      output_per_million: Type.Number(),
      currency: Type.String(),
    }),
  ),
  source: Type.Union([Type.Literal('config'), Type.Literal('discovered'), Type.Literal('local')]),
});

/** A model as GET /api/v1/models shows it. */
export const toModelBody = (model: ModelStatus): Static<typeof ModelBody> => ({
  id: model.id,
  provider: model.provider,
  upstream_model: model.upstream,
  available: model.available,
  status: model.status,
  ...(model.progress !== undefined ? { progress: model.progress } : {}),
  reason: model.reason ?? null,
  context_window: model.contextWindow ?? null,
  capabilities: model.capabilities,
  prices: model.prices
    ? {
        input_per_million: model.prices.input,
        output_per_million: model.prices.output,
        currency: model.prices.currency,
      }
    : null,
  source: model.source,
});

export const RemovedModelBody = Type.Object({ id: Type.String(), removed_at: Type.String({ format: 'date-time' }) });

export const RestoredModelBody = Type.Object({
  id: Type.String(),
  restored: Type.Literal(true),
  listed: Type.Boolean({ description: 'Whether a provider or local file still offers it, so it is listed again now' }),
});

export const NativeMessage = Type.Object(
  {
    role: Type.Union([Type.Literal('system'), Type.Literal('user'), Type.Literal('assistant')]),
    content: Type.String({ maxLength: 1_000_000 }),
  },
  { additionalProperties: false },
);

export const NativeCompletionRequest = Type.Object(
  {
    model_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Public model id (GET /api/v1/models)' }),
    ),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Alias of model_id' })),
    agent_id: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 2_147_483_647 }), Type.String({ minLength: 1, maxLength: 64 })], {
        description: 'An agent (id or UUID) to ask: its instructions and settings apply; model_id is then optional',
      }),
    ),
    prompt: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1_000_000, description: 'The user message; or give messages' }),
    ),
    system: Type.Optional(
      Type.String({ maxLength: 100_000, description: 'A system message placed before the prompt' }),
    ),
    messages: Type.Optional(
      Type.Array(NativeMessage, { minItems: 1, maxItems: 1000, description: 'The whole exchange, instead of prompt' }),
    ),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
    ...GenerationSettingsFields,
    top_p: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    stream: Type.Optional(
      Type.Boolean({ default: false, description: 'Answer as Server-Sent Events (see docs/models.md)' }),
    ),
  },
  { additionalProperties: false },
);

const UsageBody = Type.Object({
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
});

export const NativeCompletionResponse = Type.Object({
  id: Type.String(),
  object: Type.Literal('completion'),
  model_id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  content: Type.String(),
  finish_reason: Type.String({ description: 'stop, length, tool_calls or content_filter' }),
  usage: UsageBody,
});
