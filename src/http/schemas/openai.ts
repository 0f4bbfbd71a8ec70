import { SourcesBody, UrlCitationBody } from '../web-sources.ts';
import { Type } from '../../lib/type.ts';
import { Nullable } from './common.ts';

/** OpenAI's error body: what every error on the /v1 surface looks like. */
export const OpenAiErrorBody = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    param: Nullable(Type.String()),
    code: Nullable(Type.String()),
  }),
});

export const openAiErrors = {
  400: OpenAiErrorBody,
  401: OpenAiErrorBody,
  403: OpenAiErrorBody,
  404: OpenAiErrorBody,
  429: OpenAiErrorBody,
  502: OpenAiErrorBody,
  503: OpenAiErrorBody,
  504: OpenAiErrorBody,
};

/**
 * `null` allowed as "not given" (some clients send it). A type array rather than anyOf: with the
 * app's coerceTypes, anyOf would coerce null to 0 in the first branch.
 */
const orNull = <T>(type: 'number' | 'integer' | 'boolean', options: object = {}) =>
  Type.Optional(Type.Unsafe<T | null>({ type: [type, 'null'], ...options }));

const ChatMessageBody = Type.Object(
  {
    role: Type.Union([
      Type.Literal('system'),
      Type.Literal('developer'),
      Type.Literal('user'),
      Type.Literal('assistant'),
      Type.Literal('tool'),
    ]),
    content: Type.Optional(
      Type.Unknown({ description: 'A string, null, or an array of {"type": "text", "text": \u2026} parts' }),
    ),
    name: Type.Optional(Type.String({ maxLength: 256 })),
    tool_call_id: Type.Optional(Type.String({ maxLength: 256 })),
    tool_calls: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 128 })),
  },
  { additionalProperties: true },
);

/**
 * POST /v1/chat/completions. Unknown fields are tolerated (additionalProperties), so clients written
 * for other providers work: Mistral's random_seed is read as seed, safe_prompt and the like ignored.
 */
export const ChatCompletionRequest = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200 }),
    messages: Type.Array(ChatMessageBody, { minItems: 1, maxItems: 10_000 }),
    temperature: orNull<number>('number', { minimum: 0, maximum: 2 }),
    top_p: orNull<number>('number', { exclusiveMinimum: 0, maximum: 1 }),
    max_tokens: orNull<number>('integer', { minimum: 1 }),
    max_completion_tokens: orNull<number>('integer', { minimum: 1 }),
    stop: Type.Optional(Type.Unknown({ description: 'A string or up to 4 strings' })),
    seed: orNull<number>('integer'),
    presence_penalty: orNull<number>('number', { minimum: -2, maximum: 2 }),
    frequency_penalty: orNull<number>('number', { minimum: -2, maximum: 2 }),
    random_seed: orNull<number>('integer', { description: "Mistral's name for seed" }),
    n: orNull<number>('integer', { minimum: 1, maximum: 1, description: 'Only 1 is supported' }),
    tools: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 128 })),
    tool_choice: Type.Optional(Type.Unknown()),
    response_format: Type.Optional(Type.Unknown()),
    stream: orNull<boolean>('boolean'),
    stream_options: Type.Optional(
      Type.Unknown({ description: '{"include_usage": true} adds a last chunk with the usage' }),
    ),
    web_search_options: Type.Optional(
      Type.Unknown({
        description:
          "Any object turns web search on (OpenAI's field; its settings are not read): the answer cites sources as [n]",
      }),
    ),
    web_search: Type.Optional(
      Type.Boolean({ description: 'Causerie extension: true turns web search on, like web_search_options' }),
    ),
  },
  { additionalProperties: true },
);

const UsageBody = Type.Object({
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
});

const ToolCallBody = Type.Object({
  id: Type.String(),
  type: Type.Literal('function'),
  function: Type.Object({ name: Type.String(), arguments: Type.String() }),
});

export const ChatCompletionResponse = Type.Object({
  id: Type.String(),
  object: Type.Literal('chat.completion'),
  created: Type.Integer(),
  model: Type.String(),
  system_fingerprint: Type.Null(),
  choices: Type.Array(
    Type.Object({
      index: Type.Integer(),
      message: Type.Object({
        role: Type.Literal('assistant'),
        content: Nullable(Type.String()),
        refusal: Type.Null(),
        tool_calls: Type.Optional(Type.Array(ToolCallBody)),
        annotations: Type.Optional(Type.Array(UrlCitationBody)),
      }),
      logprobs: Type.Null(),
      finish_reason: Type.String(),
    }),
  ),
  usage: UsageBody,
  /** Causerie extension, with web search: every source listed to the model, cited as [n]. */
  sources: Type.Optional(SourcesBody),
});

export const OpenAiModel = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  owned_by: Type.String(),
});

export const OpenAiModelList = Type.Object({ object: Type.Literal('list'), data: Type.Array(OpenAiModel) });

export const EmbeddingsRequest = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 200 }),
    input: Type.Unknown({ description: 'A string or an array of up to 2048 strings' }),
    encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')])),
    dimensions: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    user: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: true },
);

export const EmbeddingsResponse = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(
    Type.Object({
      object: Type.Literal('embedding'),
      index: Type.Integer(),
      embedding: Type.Union([
        Type.Array(Type.Number()),
        Type.String({ description: 'base64 of little-endian float32, when encoding_format is base64' }),
      ]),
    }),
  ),
  model: Type.String(),
  usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }),
});
