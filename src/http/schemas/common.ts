import { Type, type TSchema } from 'typebox';

/** spec 003's error body, used by every native route. */
export const ErrorBody = Type.Object({ detail: Type.String(), code: Type.String() }, { $id: 'Error' });

/** Response schemas for the errors any authenticated route can answer. */
export const authErrors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody };

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const IdOrUuid = Type.String({ description: 'Integer id or UUID', minLength: 1, maxLength: 64 });

export const Pagination = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 })),
});
