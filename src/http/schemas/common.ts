import { Type, type TSchema } from 'typebox';

/** spec 003's error body, used by every native route. */
export const ErrorBody = Type.Object({ detail: Type.String(), code: Type.String() }, { $id: 'Error' });

/** Response schemas for the errors any authenticated route can answer. */
export const authErrors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * What an id can look like: a positive integer or a UUID. Anything else cannot name a resource,
 * so it is a bad request (400 "is not a valid id") rather than a 404. A number too large to be
 * an id still looks like one: it names nothing (404).
 */
export const idPattern = '^(?:[1-9][0-9]{0,18}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$';

export const IdOrUuid = Type.String({ description: 'Integer id or UUID', minLength: 1, maxLength: 64, pattern: idPattern });

/** A user named by username, id or UUID. */
export const UserReference = Type.String({ description: 'Username, integer id or UUID', minLength: 1, maxLength: 64 });

export const Pagination = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 })),
});
