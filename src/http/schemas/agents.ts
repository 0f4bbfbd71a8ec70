import type { Static, TSchema } from 'typebox';
import { Type } from '../../lib/type.ts';
import type { Agent } from '../../domain/agents/agents.types.ts';
import { Nullable } from './common.ts';
import { NativeMessage } from './models.ts';

/**
 * A field that takes null to clear it. A type array, not a union: with type coercion on, a union
 * would turn null into "" or 0 before its null branch is tried.
 */
const OrNull = <T extends TSchema>(schema: T) =>
  Type.Unsafe<Static<T> | null>({ ...schema, type: [(schema as unknown as { type: string }).type, 'null'] });

const Timestamp = Type.String({ format: 'date-time' });
const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form JSON the client attaches' });
const Temperature = Type.Number({ minimum: 0, maximum: 2 });
const TopP = Type.Number({ exclusiveMinimum: 0, maximum: 1 });
const MaxTokens = Type.Integer({ minimum: 1, maximum: 10_000_000 });
const ModelId = Type.String({ minLength: 1, maxLength: 200, description: 'A model id from GET /api/v1/models' });
const Tools = Type.Array(Type.Record(Type.String(), Type.Unknown()), {
  maxItems: 128,
  description:
    "Tool definitions (OpenAI's or Mistral's shape), passed to the agent's copy on Mistral; Causerie runs no tool itself",
});

/** The sessions dialect's agent: a model with instructions and generation settings, owned like a session. */
export const AgentBody = Type.Object({
  id: Type.Integer(),
  uuid: Type.String({ format: 'uuid' }),
  user_id: Type.Integer(),
  name: Type.String(),
  model: Nullable(Type.String({ description: 'The model it answers with; null: the default model' })),
  instructions: Nullable(Type.String({ description: 'Its system prompt, placed first in every exchange' })),
  description: Nullable(Type.String()),
  temperature: Nullable(Type.Number()),
  top_p: Nullable(Type.Number()),
  max_tokens: Nullable(Type.Integer()),
  web_search: Type.Boolean({
    description: 'Whether it searches the web for every question (a request may turn it off)',
  }),
  tools: Nullable(Type.Array(Type.Unknown())),
  metadata: Metadata,
  provider_agent_id: Nullable(
    Type.String({
      description: "Its id on Mistral's Agents API when its model is a Mistral model, once created there",
    }),
  ),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const agentFields = {
  model_id: Type.Optional(OrNull(ModelId)),
  model: Type.Optional(OrNull(Type.String({ minLength: 1, maxLength: 200, description: 'Alias of model_id' }))),
  instructions: Type.Optional(OrNull(Type.String({ maxLength: 100_000, description: 'The system prompt' }))),
  description: Type.Optional(OrNull(Type.String({ maxLength: 10_000 }))),
  temperature: Type.Optional(OrNull(Temperature)),
  top_p: Type.Optional(OrNull(TopP)),
  max_tokens: Type.Optional(OrNull(MaxTokens)),
  web_search: Type.Optional(
    OrNull(
      Type.Boolean({
        description:
          'Search the web for every question, citing sources as [n]; null or false: only when a request asks',
      }),
    ),
  ),
  tools: Type.Optional(OrNull(Tools)),
  metadata: Type.Optional(Metadata),
};

/** The optional body of POST /api/v1/models/agents?name=...; the name may also come here. */
export const CreateAgentBody = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), ...agentFields },
  { additionalProperties: false },
);

export const CreateAgentQuery = Type.Object({
  name: Type.Optional(
    Type.String({ minLength: 1, maxLength: 200, description: "The agent's name (the sessions dialect gives it here)" }),
  ),
});

/** PATCH (and PUT) /api/v1/models/agents/{agent_id}: each field given is changed, null clears it. */
export const UpdateAgentBody = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), ...agentFields },
  { additionalProperties: false },
);

const settingsFields = {
  model_id: Type.Optional({ ...ModelId, description: "Another model than the agent's, for this request" }),
  stream: Type.Optional(Type.Boolean({ default: false, description: 'Answer as Server-Sent Events' })),
  temperature: Type.Optional(Temperature),
  top_p: Type.Optional(TopP),
  max_tokens: Type.Optional(MaxTokens),
};

/** A prompt to an agent without a session: prompt and/or the exchange so far. */
export const AgentPromptBody = Type.Object(
  {
    prompt: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1_000_000,
        description: 'The user message (after messages, when both are given)',
      }),
    ),
    messages: Type.Optional(
      Type.Array(NativeMessage, { minItems: 1, maxItems: 1000, description: 'The exchange so far' }),
    ),
    stop: Type.Optional(Type.Array(Type.String({ maxLength: 500 }), { maxItems: 4 })),
    seed: Type.Optional(Type.Integer({ minimum: -9_007_199_254_740_991, maximum: 9_007_199_254_740_991 })),
    ...settingsFields,
  },
  { additionalProperties: false },
);

/** A prompt to an agent inside a session: like the session completion's body. */
export const AgentSessionPromptBody = Type.Object(
  { prompt: Type.String({ minLength: 1, maxLength: 1_000_000, description: 'The user message' }), ...settingsFields },
  { additionalProperties: false },
);

export const toAgentBody = (agent: Agent) => ({
  id: agent.id,
  uuid: agent.uuid,
  user_id: agent.userId,
  name: agent.name,
  model: agent.model,
  instructions: agent.instructions,
  description: agent.description,
  temperature: agent.settings.temperature ?? null,
  top_p: agent.settings.topP ?? null,
  max_tokens: agent.settings.maxTokens ?? null,
  web_search: agent.settings.webSearch === true,
  tools: agent.tools,
  metadata: agent.metadata,
  provider_agent_id: agent.providerAgentId,
  created_at: agent.createdAt,
  updated_at: agent.updatedAt,
});
