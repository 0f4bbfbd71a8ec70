import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errorCodes, type ErrorCode } from '../domain/errors.ts';
import { OAuthError } from '../domain/auth/auth.service.ts';

/** The error dialects: spec 003's {"detail"} natively, OpenAI's on its surface, RFC 6749's on /oauth/token. */
export type Surface = 'native' | 'openai' | 'oauth';

declare module 'fastify' {
  interface FastifyContextConfig {
    surface?: Surface;
  }
}

const openAiPaths = /^\/v1\/(chat\/completions|models|embeddings)(\/|\?|$)/;

export function surfaceOf(request: FastifyRequest): Surface {
  return request.routeOptions.config?.surface ?? (openAiPaths.test(request.url) ? 'openai' : 'native');
}

const openAiTypes: Partial<Record<ErrorCode, string>> = {
  validation_failed: 'invalid_request_error',
  unauthorized: 'authentication_error',
  forbidden: 'permission_error',
  not_found: 'not_found_error',
  rate_limited: 'rate_limit_error',
  payload_too_large: 'invalid_request_error',
};

/** Names the field at fault in a schema validation error, e.g. "body.messages.0.role". */
function describeValidation(error: FastifyError): { message: string; field: string | undefined } {
  const first = error.validation?.[0];
  if (!first) return { message: error.message, field: undefined };
  const context = error.validationContext ?? 'body';
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const params = first.params as Record<string, unknown>;
  let field = path ? `${context}.${path}` : context;
  let message = first.message ?? 'is invalid';
  if (typeof params.missingProperty === 'string') {
    field = `${field}.${params.missingProperty}`.replace(/^body\./, 'body.');
    message = 'is required';
  } else if (typeof params.additionalProperty === 'string') {
    field = `${field}.${params.additionalProperty}`;
    message = 'is not a known field';
  }
  return { message: `${field}: ${message}`, field };
}

/** Turns any thrown error into an AppError; unknown errors become a 500 that reveals nothing. */
export function toAppError(error: FastifyError | AppError | Error): AppError {
  if (error instanceof AppError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const { message, field } = describeValidation(fastifyError);
    return new AppError('validation_failed', message, { field });
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'Request body is too large');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('validation_failed', 'body: is not valid JSON', { field: 'body' });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'Unsupported Content-Type; send application/json');
  }
  if (error instanceof SyntaxError && (fastifyError.statusCode === 400)) {
    return new AppError('validation_failed', 'body: is not valid JSON', { field: 'body' });
  }
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) {
    const code = (Object.keys(errorCodes) as ErrorCode[]).find((c) => errorCodes[c].status === status) ?? 'validation_failed';
    return new AppError(code, fastifyError.message);
  }
  return new AppError('internal_error', 'Internal server error');
}

export function renderError(error: AppError, surface: Surface, requestId: string) {
  const message = error.code === 'internal_error' ? `Internal server error (request id ${requestId})` : error.message;
  if (surface === 'openai') {
    return { error: { message, type: openAiTypes[error.code] ?? 'api_error', param: error.field ?? null, code: error.code } };
  }
  if (surface === 'oauth') {
    const oauthCode = error instanceof OAuthError ? error.oauthCode : error.status === 401 ? 'invalid_client' : 'invalid_request';
    return { error: oauthCode, error_description: message };
  }
  return { detail: message, code: error.code };
}

export function sendError(request: FastifyRequest, reply: FastifyReply, thrown: Error) {
  const error = toAppError(thrown);
  // The cause goes in its own key: pino writes `msg` itself, and a second `msg` would be lost
  // by every JSON parser (the last duplicate key wins).
  if (error.code === 'internal_error') request.log.error({ err: thrown }, 'unhandled error');
  else if (error.status >= 500) request.log.warn({ code: error.code, detail: error.message }, 'request failed');
  reply.code(error.status).headers(error.headers);
  if (error.status === 401 && !error.headers['www-authenticate']) {
    reply.header('www-authenticate', 'Bearer realm="causerie", Basic realm="causerie"');
  }
  return reply.send(renderError(error, surfaceOf(request), String(request.id)));
}
