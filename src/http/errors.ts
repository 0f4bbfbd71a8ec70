import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errorCodes, type ErrorCode } from '../domain/errors.ts';
import { OAuthError } from '../domain/auth/auth.service.ts';
import { idPattern } from './schemas/common.ts';
import { refusalOf } from '../providers/web/connect-guard.ts';

/** The error dialects: the chat-API dialect's {"detail"} natively, OpenAI's on its surface, RFC 6749's on /oauth/token. */
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
  provider_rate_limited: 'rate_limit_error',
  provider_rejected: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
};

/** The part of the request as callers call it: one prefix style for every query error. */
const partNames: Record<string, string> = { querystring: 'query' };

/** Names the field at fault in a schema validation error, e.g. "body.messages.0.role". */
function describeValidation(error: FastifyError): { message: string; field: string | undefined } {
  const errors = error.validation ?? [];
  const first = errors[0];
  if (!first) return { message: error.message, field: undefined };
  const context = partNames[error.validationContext ?? 'body'] ?? error.validationContext ?? 'body';
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const params = first.params as Record<string, unknown>;
  let field = path ? `${context}.${path}` : context;
  let message = first.message ?? 'is invalid';
  if (typeof params.missingProperty === 'string') {
    field = `${field}.${params.missingProperty}`;
    message = 'is required';
  } else if (typeof params.additionalProperty === 'string') {
    field = `${field}.${params.additionalProperty}`;
    message = 'is not a known field';
  } else if (first.keyword === 'const' || first.keyword === 'enum') {
    // A union of literals fails once per literal: list them all instead of the first one's
    // "must be equal to constant".
    const allowed = errors
      .filter((e) => e.instancePath === first.instancePath && (e.keyword === 'const' || e.keyword === 'enum'))
      .flatMap((e) =>
        e.keyword === 'const'
          ? [(e.params as { allowedValue: unknown }).allowedValue]
          : (e.params as { allowedValues: unknown[] }).allowedValues,
      );
    message = `must be one of ${[...new Set(allowed)].map((value) => JSON.stringify(value)).join(', ')}`;
  } else if (first.keyword === 'pattern' && params.pattern === idPattern) {
    message = 'is not a valid id (an integer or a UUID)';
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
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return new AppError('validation_failed', 'body: is not valid JSON', { field: 'body' });
  }
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) {
    const code =
      (Object.keys(errorCodes) as ErrorCode[]).find((c) => errorCodes[c].status === status) ?? 'validation_failed';
    return new AppError(code, fastifyError.message);
  }
  return new AppError('internal_error', 'Internal server error');
}

export function renderError(error: AppError, surface: Surface, requestId: string) {
  const message = error.code === 'internal_error' ? `Internal server error (request id ${requestId})` : error.message;
  if (surface === 'openai') {
    return {
      error: { message, type: openAiTypes[error.code] ?? 'api_error', param: error.field ?? null, code: error.code },
    };
  }
  if (surface === 'oauth') {
    const oauthCode =
      error instanceof OAuthError ? error.oauthCode : error.status === 401 ? 'invalid_client' : 'invalid_request';
    return { error: oauthCode, error_description: message };
  }
  return { detail: message, code: error.code };
}

/**
 * Conversations are called sessions on the sessions dialect's and the chat-API dialect's routes and chats on the chats dialect's:
 * a missing one is named as the caller's document names it.
 */
const conversationNouns: Array<[RegExp, string]> = [
  [/^\/(api\/v1\/sessions|api\/v1\/agents\/[^/]+\/sessions|v1\/chat\/|api\/chat\/)/, 'Session'],
  [/^\/(chats(\/|$|\?)|conversations\/inference(_internet)?\/)/, 'Chat'],
];

/**
 * Says what the caller sent: a service names `model`, the sessions dialect's callers send `model_id`; a
 * missing conversation takes the surface's word for it.
 */
function inCallersWords(request: FastifyRequest, error: AppError): AppError {
  if (error.code === 'not_found' && error.message === 'Conversation not found') {
    const noun = conversationNouns.find(([pattern]) => pattern.test(request.url))?.[1];
    if (noun) return new AppError('not_found', `${noun} not found`, { headers: error.headers });
  }
  const body = request.body as Record<string, unknown> | undefined;
  if (
    error.code === 'validation_failed' &&
    body &&
    typeof body === 'object' &&
    'model_id' in body &&
    !('model' in body)
  ) {
    const match = /^(body\.)?model(?=:)/.exec(error.message);
    if (match && (error.field === 'model' || error.field === 'body.model')) {
      const field = `${match[1] ?? ''}model_id`;
      return new AppError('validation_failed', field + error.message.slice(match[0].length), {
        field,
        headers: error.headers,
      });
    }
  }
  return error;
}

export function sendError(request: FastifyRequest, reply: FastifyReply, thrown: Error) {
  const error = inCallersWords(request, toAppError(thrown));
  // The cause goes in its own key: pino writes `msg` itself, and a second `msg` would be lost
  // by every JSON parser (the last duplicate key wins).
  if (error.code === 'internal_error') request.log.error({ err: thrown }, 'unhandled error');
  else if (error.status >= 500) {
    // A connection the SSRF policy refused: the caller sees the host, the operator also gets the address.
    const refused = refusalOf(thrown)?.address;
    request.log.warn({ code: error.code, detail: error.message, refused_address: refused }, 'request failed');
  }
  reply.code(error.status).headers(error.headers);
  if (error.status === 401 && !error.headers['www-authenticate']) {
    reply.header('www-authenticate', 'Bearer realm="causerie", Basic realm="causerie"');
  }
  return reply.send(renderError(error, surfaceOf(request), String(request.id)));
}
