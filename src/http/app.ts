import { randomUUID } from 'node:crypto';
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type RawServerDefault,
} from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from '../services.ts';
import { AppError, errorCodes, type ErrorCode } from '../domain/errors.ts';
import { sendError } from './errors.ts';
import { armClientGone, clientLeft } from './client-gone.ts';
import { registerMetrics } from './metrics.ts';
import { registerDocs } from './docs.ts';
import { registerSurfaces } from './surfaces/index.ts';
import { closeOnlyLongIdleConnections } from './idle-connections.ts';
import { registerResume } from './resume.ts';
import { type Logger, maskSecretsInUrl, withRequestLogger } from './logger.ts';
import { RequestLines } from './request-lines.ts';

/**
 * Where a shutdown stands. `draining`: /readyz answers 503 and every response says Connection:
 * close, so balancers stop sending and kept-alive connections end; requests are still served.
 * `stopping`: the grace period is over; requests that still arrive answer 503 shutting_down.
 */
export interface Lifecycle {
  draining: boolean;
  stopping: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle;
  }
}

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

// Not `import ... from 'node:http'`: an ES import of node:http reads every export, and its WebSocket
// getters load Node's bundled undici (~8 MiB resident, decision 026).
const { STATUS_CODES } = process.getBuiltinModule('node:http');

const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;

// Paths that carry a secret (the public-agents dialect's public conversation token) are masked in logs.

export interface AppOptions {
  services: Services;
  /** The process's one logger (createLogger); the services log through children of it. */
  logger: Logger;
}

/** Builds the Fastify application: plugins, error handling, metrics, docs and every surface. Does not listen. */
export async function buildApp({ services, logger }: AppOptions): Promise<App> {
  const app = Fastify({
    loggerInstance: logger,
    logController: new RequestLines(),
    bodyLimit: services.config.bodyLimitBytes,
    // Behind a reverse proxy the connection is the proxy's: its X-Forwarded-For names the client,
    // believed only from the proxies listed (a client could send the header itself).
    ...(services.config.trustProxy ? { trustProxy: services.config.trustProxy } : {}),
    // A client that sends its request slowly (a byte every few seconds) must not hold a connection
    // for ever: the whole request must arrive in time. Node checks at an interval, so keep it short.
    requestTimeout: services.config.requestTimeoutMs,
    http: {
      headersTimeout: Math.min(60_000, services.config.requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(services.config.requestTimeoutMs / 4))),
    },
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    schemaController: { compilersFactory: { buildValidator: strictBodies, buildSerializer: lazySerializers } },
    routerOptions: { ignoreTrailingSlash: false },
    // Fastify answers these three itself in its own JSON shape; Causerie's shape is used instead.
    return503OnClosing: false,
    frameworkErrors: (error, request, reply) => sendError(request, reply, error),
    clientErrorHandler: rejectMalformedHttp,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // On shutdown (docs/operations.md): while draining, requests are still served but every response
  // carries Connection: close, so no connection is reused; a request a balancer had already sent
  // on a kept-alive connection is answered rather than lost (a balancer does not retry a POST).
  // On close the socket stops listening and connections left idle (after a stream, say) are
  // closed once idle for the drain delay, so close() does not wait for keep-alive timeouts.
  const lifecycle: Lifecycle = { draining: false, stopping: false };
  app.decorate('lifecycle', lifecycle);
  closeOnlyLongIdleConnections(app.server, services.config.shutdownDelayMs);
  let reaper: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    lifecycle.draining = true;
    reaper = setInterval(() => app.server.closeIdleConnections(), 250);
    reaper.unref();
  });
  app.addHook('onClose', async () => clearInterval(reaper));
  // The hooks every request runs take a callback rather than being async: a promise and a
  // microtask per hook and request add up on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    // First of all, so a client leaving while it is authenticated or its conversation looked up is noticed.
    armClientGone(request, reply);
    reply.header('x-request-id', request.id);
    if (lifecycle.stopping) throw new AppError('shutting_down', 'This server is shutting down; retry the request');
    // Services log a request's warnings with its request id (see warningsOf).
    withRequestLogger(request.log, done);
  });
  app.addHook('onSend', (_request, reply, _payload, done) => {
    if (lifecycle.draining) reply.header('connection', 'close');
    // Nothing Causerie sends is to be sniffed into another type, and API answers are never a page
    // to render or frame. Pages set their own policy (and the docs UI theirs).
    reply.header('x-content-type-options', 'nosniff');
    if (
      !reply.hasHeader('content-security-policy') &&
      !String(reply.getHeader('content-type') ?? '').startsWith('text/html')
    ) {
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    }
    done();
  });

  // OAuth clients post application/x-www-form-urlencoded (RFC 6749 section 4.3); every other
  // route reads JSON only. A form is also what a cross-site page can post without a CORS
  // preflight, so refusing it elsewhere closes that door. text/plain likewise.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (request, body, done) => {
    if (!request.url.startsWith('/oauth/'))
      return done(new AppError('unsupported_media_type', 'Unsupported Content-Type; send application/json'), undefined);
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  // Many HTTP clients send `Content-Type: application/json` with an empty body on DELETE and on
  // POSTs whose body is optional: that is no body, not malformed JSON. Anything else goes through
  // Fastify's own parser (and its prototype-poisoning checks).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined);
    parseJson(request, body as string, done);
  });

  // No body where the route reads an object is an empty object: the fields it requires are then
  // named one by one ("body.username: is required") rather than "body: must be object".
  app.addHook('preValidation', (request, _reply, done) => {
    const schema = request.routeOptions.schema?.body as { type?: string } | undefined;
    if (request.body === undefined && schema?.type === 'object') request.body = {};
    // PostgreSQL text cannot hold U+0000 (SQLite can): refused on every route and both databases
    // alike, in the parts the route reads.
    const field = firstInPartsRead(request, nulCharacterAt);
    if (field) throw new AppError('validation_failed', `${field}: must not contain the NUL character`, { field });
    done();
  });

  // Validation turns "1e309" (or 1e309 in JSON) into Infinity, which passes the integer and range
  // checks; no field of any route takes a number that is not finite.
  app.addHook('preHandler', (request, _reply, done) => {
    const field = firstInPartsRead(request, nonFiniteNumberAt);
    if (field) throw new AppError('validation_failed', `${field}: must be a finite number`, { field });
    done();
  });

  app.setErrorHandler((error, request, reply) => {
    // A client that hung up is not a server failure: nobody reads the answer, so it is noted, not alarmed on.
    if (clientLeft(reply)) {
      request.log.info({ reason: (error as Error).message }, 'client left before the answer');
      return reply.code(499).send();
    }
    return sendError(request, reply, error as Error);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      new AppError('not_found', `Route ${request.method} ${maskSecretsInUrl(request.url.split('?')[0]!)} not found`),
    ),
  );

  if (services.config.maxConnections > 0) app.server.maxConnections = services.config.maxConnections;
  app.decorate('sseHeartbeatMs', services.config.sseHeartbeatMs);
  if (services.answerStreams) registerResume(app, services.answerStreams);
  const metrics = registerMetrics(app, { connectionStats: () => services.models.connectionStats() });
  await registerDocs(app);
  registerSurfaces(app, services, { metrics });
  return app;
}

/** A path to a field, built only once something is found there (most requests find nothing). */
type Found = string[] | undefined;

/**
 * The path of the first field `find` reports in the parts of a request its route reads (params
 * and query only where the route declares them), as "body.messages.0.content".
 */
function firstInPartsRead(request: FastifyRequest, find: (value: unknown, depth: number) => Found): string | undefined {
  const schemas = request.routeOptions.schema;
  return (
    (schemas?.params ? prefixed('params', find(request.params, 0)) : undefined) ??
    (schemas?.querystring ? prefixed('query', find(request.query, 0)) : undefined) ??
    prefixed('body', find(request.body, 0))
  );
}

const prefixed = (part: string, path: Found) => (path ? [part, ...path.reverse()].join('.') : undefined);

const withStep = (path: string[], step: string) => {
  path.push(step);
  return path;
};

/** Visits the values of an object or array; `visit` returns a path (reversed) when it found something. */
function searchChildren(value: object, depth: number, visit: (item: unknown, depth: number) => Found): Found {
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = visit(value[index], depth + 1);
      if (found) return withStep(found, String(index));
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const found = visit((value as Record<string, unknown>)[key], depth + 1);
    if (found) return withStep(found, key);
  }
  return undefined;
}

/** The (reversed) path of the first string or key holding U+0000 in a parsed request part, if any. */
function nulCharacterAt(value: unknown, depth: number): Found {
  if (typeof value === 'string') return value.includes('\0') ? [] : undefined;
  if (!value || typeof value !== 'object' || depth > 64 || Buffer.isBuffer(value)) return undefined;
  if (Array.isArray(value)) return searchChildren(value, depth, nulCharacterAt);
  for (const key of Object.keys(value)) {
    if (key.includes('\0')) return [];
    const found = nulCharacterAt((value as Record<string, unknown>)[key], depth + 1);
    if (found) return withStep(found, key);
  }
  return undefined;
}

/** The (reversed) path of the first number that is not finite in a parsed request part, if any. */
function nonFiniteNumberAt(value: unknown, depth: number): Found {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : [];
  if (!value || typeof value !== 'object' || depth > 64 || Buffer.isBuffer(value)) return undefined;
  return searchChildren(value, depth, nonFiniteNumberAt);
}

const validatorPool = AjvCompiler();
const serializerPool = SerializerSelector();

/**
 * Compiles a route's validator or serializer on its first use rather than at start-up: the code
 * Ajv and fast-json-stringify generate for a few hundred schemas costs tens of MiB of memory,
 * and most servers only ever call a handful of routes. The wrapper copies Ajv's `errors`, which
 * Fastify reads from the function it was given.
 */
function compiledOnFirstUse<F extends (data: never) => unknown>(compile: () => F): F {
  let compiled: F | undefined;
  const run = function (this: unknown, data: unknown) {
    compiled ??= compile();
    const result = (compiled as unknown as (this: unknown, data: unknown) => unknown).call(this, data);
    (run as unknown as { errors: unknown }).errors = (compiled as unknown as { errors: unknown }).errors;
    return result;
  };
  return run as unknown as F;
}

/**
 * Query strings, path parameters and headers are text, so their numbers and booleans are coerced
 * from it; a JSON body already has types, and `"prompt": 42` or `"name": 5` is refused rather than
 * stored as "42". Two compilers from the same pool, chosen by the part being validated.
 */
const strictBodies: typeof validatorPool = (externalSchemas, options = {}) => {
  const coercing = validatorPool(externalSchemas, options);
  const strict = validatorPool(externalSchemas, {
    ...options,
    customOptions: { ...options.customOptions, coerceTypes: false },
  } as typeof options);
  return (route) => compiledOnFirstUse(() => (route.httpPart === 'body' ? strict : coercing)(route));
};

const lazySerializers: typeof serializerPool = (externalSchemas, options) => {
  const build = serializerPool(externalSchemas, options);
  return (route) => compiledOnFirstUse(() => build(route));
};

/** Requests Node cannot even parse as HTTP: answered on the raw socket, still as {detail, code}. */
function rejectMalformedHttp(error: Error & { code?: string }, socket: Duplex) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? 'request_timeout'
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? 'headers_too_large'
        : 'validation_failed';
  const detail =
    { request_timeout: 'Request not received in time', headers_too_large: 'Request headers too large' }[
      code as string
    ] ?? 'Malformed HTTP request';
  const body = JSON.stringify({ detail, code });
  const { status } = errorCodes[code];
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
