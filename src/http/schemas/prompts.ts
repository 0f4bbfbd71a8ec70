import { Type } from '../../lib/type.ts';
import { Nullable } from './common.ts';

/** The chat-API dialect's prompt shapes ("Prompt Management API"). */
const Title = Type.String({ minLength: 1, maxLength: 200 });
const Content = Type.String({
  minLength: 1,
  maxLength: 100_000,
  description: 'The template: {name} is a variable, {{ and }} are literal braces',
});
const Scenario = Type.String({
  minLength: 1,
  maxLength: 100,
  description: 'A free label to group prompts by, e.g. "summarization"',
});
const Description = Type.String({ maxLength: 2000 });
const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'Any JSON object (tags, \u2026)' });
const Variables = Type.Record(Type.String(), Type.String({ maxLength: 1_000_000 }), {
  description: 'Values of the {name} variables, by name',
});

export const PromptBody = Type.Object({
  id: Type.Integer(),
  title: Type.String(),
  content: Type.String(),
  scenario: Nullable(Type.String()),
  description: Nullable(Type.String()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  is_template: Type.Boolean({ description: 'A built-in template: everyone can use it, nobody can change it' }),
  usage_count: Type.Integer({ description: 'Completions that used this prompt (previews not counted)' }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const CreatePromptBody = Type.Object(
  {
    title: Title,
    content: Content,
    scenario: Type.Optional(Nullable(Scenario)),
    description: Type.Optional(Nullable(Description)),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);

export const UpdatePromptBody = Type.Object(
  {
    title: Type.Optional(Title),
    content: Type.Optional(Content),
    scenario: Type.Optional(Nullable(Scenario)),
    description: Type.Optional(Nullable(Description)),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false },
);

export const PromptListQuery = Type.Object({
  scenario: Type.Optional(Type.String({ maxLength: 100, description: 'Only prompts of this scenario' })),
  include_templates: Type.Boolean({ default: true, description: 'Include the built-in templates' }),
  search: Type.Optional(
    Type.String({ maxLength: 200, description: 'Case-insensitive text searched in title, content and description' }),
  ),
  page: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 1 }),
  page_size: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
});

export const PromptListReply = Type.Object({
  items: Type.Array(PromptBody),
  total: Type.Integer(),
  page: Type.Integer(),
  page_size: Type.Integer(),
});

export const PromptParams = Type.Object({ prompt_id: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }) });

export const PreviewBody = Type.Object(
  {
    prompt_id: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1, description: 'A stored prompt (yours or a template)' }),
    ),
    content: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100_000, description: 'Or a template given inline' }),
    ),
    variables: Type.Optional(Variables),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Default: the default model' })),
    render_only: Type.Optional(
      Type.Boolean({ default: false, description: 'Return the rendered text without asking a model' }),
    ),
  },
  { additionalProperties: false },
);

const Rendered = {
  rendered: Type.String({ description: 'The prompt with its variables replaced' }),
  variables: Type.Array(Type.String(), { description: 'The variables the prompt uses' }),
  unused_variables: Type.Array(Type.String(), { description: 'Variables given that the prompt does not use' }),
};

export const PreviewReply = Type.Union([
  Type.Object({ preview: Type.String(), tokens_used: Type.Integer(), model_used: Type.String(), ...Rendered }),
  Type.Object(Rendered),
]);

/** `prompt_id` + `variables` on chat routes: the rendered prompt comes first in the user message. */
export const UsePromptFields = {
  prompt_id: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 2 ** 31 - 1,
      description: 'A stored prompt to use: rendered with `variables`, it starts the user message',
    }),
  ),
  variables: Type.Optional(Variables),
};
