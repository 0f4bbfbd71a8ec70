import { Type } from '../../lib/type.ts';
import { Nullable } from './common.ts';
import { KeyLimits } from './keys.ts';

const positive = (description: string) =>
  Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, description }));

export const VisitorLimits = Type.Object(
  {
    requests_per_minute: positive('Messages and token requests per minute, per visitor'),
    tokens_per_day: positive('Model tokens per UTC day, per visitor'),
    messages_per_conversation: positive('Visitor messages one public conversation may hold'),
  },
  { additionalProperties: false },
);

export const CreatePublicKeyBody = Type.Object(
  {
    allowed_origins: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
      minItems: 1,
      maxItems: 20,
      description: 'Web origins (scheme://host[:port]) whose pages may use the key',
    }),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    limits: Type.Optional(KeyLimits),
    visitor_limits: Type.Optional(VisitorLimits),
  },
  { additionalProperties: false },
);

export const PublicKeyBody = Type.Object({
  id: Type.Integer(),
  uuid: Type.String({ format: 'uuid' }),
  agent_id: Type.Integer(),
  agent_uuid: Type.String(),
  name: Nullable(Type.String()),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it' }),
  allowed_origins: Type.Array(Type.String()),
  limits: Nullable(KeyLimits),
  visitor_limits: Type.Object({
    requests_per_minute: Type.Integer(),
    tokens_per_day: Type.Integer(),
    messages_per_conversation: Type.Integer(),
  }),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Nullable(Type.String({ format: 'date-time' })),
  revoked_at: Nullable(Type.String({ format: 'date-time' })),
});

export const CreatedPublicKeyBody = Type.Intersect([
  PublicKeyBody,
  Type.Object({ key: Type.String({ description: 'The public key (PUB_\u2026), for the page snippet. Shown once.' }) }),
]);

export const PublicKeyEventBody = Type.Object({
  id: Type.Integer(),
  public_key_id: Type.Integer(),
  reason: Type.String({
    description:
      'origin_not_allowed, origin_mismatch, visitor_mismatch, expired_token_replayed, revoked_token_replayed, key_revoked or burst',
  }),
  origin: Nullable(Type.String()),
  visitor: Nullable(Type.String({ description: 'The anonymous visitor id' })),
  created_at: Type.String({ format: 'date-time' }),
});

export const ClientTokenBody = Type.Object({
  token: Type.String({ description: 'The client token: send it with every public call until it expires' }),
  expires_at: Type.String({ format: 'date-time' }),
  conversation_id: Type.String({ description: 'The UUID of the new public conversation' }),
});

export const PublicMessageBody = Type.Object({
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
  content: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

export const SendPublicMessageBody = Type.Object(
  {
    client_token: Type.String({ minLength: 1, maxLength: 200 }),
    message: Type.String({ minLength: 1, maxLength: 20_000 }),
    stream: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);
