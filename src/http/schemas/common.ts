import type { TSchema } from 'typebox';
import { Type } from '../../lib/type.ts';

/** The chat-API dialect's error body, used by every native route. */
export const ErrorBody = Type.Object({ detail: Type.String(), code: Type.String() }, { $id: 'Error' });

/** Response schemas for the errors any authenticated route can answer. */
export const authErrors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * What an id can look like: a positive integer or a UUID. Anything else cannot name a resource,
 * so it is a bad request (400 "is not a valid id") rather than a 404. A number too large to be
 * an id still looks like one: it names nothing (404).
 */
export const idPattern =
  '^(?:[1-9][0-9]{0,18}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$';

export const IdOrUuid = Type.String({
  description: 'Integer id or UUID',
  minLength: 1,
  maxLength: 64,
  pattern: idPattern,
});

/** A user named by username, id or UUID. */
export const UserReference = Type.String({ description: 'Username, integer id or UUID', minLength: 1, maxLength: 64 });

const StopField = Type.Union(
  [
    Type.String({ minLength: 1, maxLength: 500 }),
    Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { maxItems: 4 }),
  ],
  { description: 'Where the answer stops: a string or up to 4 strings' },
);

/**
 * Generation settings users send by habit, accepted on every chat surface and passed to the
 * provider. One the model's provider cannot honour is named in the X-Causerie-Ignored-Settings
 * response header rather than dropped silently.
 */
export const GenerationSettingsFields = {
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  max_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })),
  stop: Type.Optional(StopField),
  seed: Type.Optional(Type.Integer({ minimum: -9_007_199_254_740_991, maximum: 9_007_199_254_740_991 })),
  presence_penalty: Type.Optional(Type.Number({ minimum: -2, maximum: 2 })),
  frequency_penalty: Type.Optional(Type.Number({ minimum: -2, maximum: 2 })),
};

/** The settings of a body in the provider-neutral form (stop always a list). */
export function generationSettings(body: {
  top_p?: number;
  max_tokens?: number;
  stop?: string | string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
}) {
  return {
    top_p: body.top_p,
    max_tokens: body.max_tokens,
    stop: typeof body.stop === 'string' ? [body.stop] : body.stop,
    seed: body.seed,
    presence_penalty: body.presence_penalty,
    frequency_penalty: body.frequency_penalty,
  };
}

export const Pagination = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 })),
});
