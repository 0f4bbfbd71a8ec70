import type { FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors.ts';
import type { Principal } from '../domain/auth/auth.service.ts';
import type { Services } from '../services.ts';
import { assertAdmin } from '../domain/users/authorization.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** OpenAPI security requirement shared by every authenticated route. */
export const security: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { basicAuth: [] }];

/**
 * Hook that resolves the Authorization header to a principal or answers 401. Use it as the
 * route's `onRequest` hook: then a caller without valid credentials gets 401 before the body is
 * read or validated (as `preHandler` it would run after validation, and answer 400 first).
 */
export function authenticate(services: Services) {
  return async (request: FastifyRequest) => {
    request.principal = await services.auth.authenticate(request.headers.authorization, request.ip);
  };
}

/** The principal of an authenticated route (its authenticate hook ran). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('unauthorized', 'Authentication required');
  return request.principal;
}

/** Refuses a non-administrator before the request body is even read (the service checks again). */
export async function requireAdmin(request: FastifyRequest) {
  assertAdmin(principalOf(request), 'use this route');
}
