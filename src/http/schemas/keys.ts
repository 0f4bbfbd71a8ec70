import { Type } from '../../lib/type.ts';
import { Nullable } from './common.ts';

const limit = (description: string) =>
  Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description }));

export const KeyLimits = Type.Object(
  {
    requests_per_minute: limit('Requests per minute'),
    requests_per_day: limit('Requests per UTC day'),
    tokens_per_day: limit('Prompt + completion tokens per UTC day'),
    tokens_per_month: limit('Prompt + completion tokens per UTC month'),
    concurrent_streams: limit('Streams open at once'),
    searches_per_day: limit('Web searches per UTC day'),
  },
  { additionalProperties: false },
);

export const ApiKeyBody = Type.Object({
  id: Type.Integer(),
  uuid: Type.String({ format: 'uuid' }),
  user_id: Type.Integer(),
  name: Nullable(Type.String()),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it' }),
  kind: Type.Union([Type.Literal('secret'), Type.Literal('public')]),
  limits: Nullable(KeyLimits),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Nullable(Type.String({ format: 'date-time' })),
  expires_at: Nullable(Type.String({ format: 'date-time' })),
  revoked_at: Nullable(Type.String({ format: 'date-time' })),
});

export const CreatedApiKeyBody = Type.Intersect([
  ApiKeyBody,
  Type.Object({ key: Type.String({ description: 'The full key. Shown once: store it now.' }) }),
]);

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    expires_at: Type.Optional(Type.String({ format: 'date-time' })),
    expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    limits: Type.Optional(KeyLimits),
    user_id: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'Admins only: create the key for another user' }),
    ),
  },
  { additionalProperties: false },
);
