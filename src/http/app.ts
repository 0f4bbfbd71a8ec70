import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from '../services.ts';
import { AppError } from '../domain/errors.ts';
import { sendError } from './errors.ts';
import { registerMetrics } from './metrics.ts';
import { registerDocs } from './docs.ts';
import { registerSurfaces } from './surfaces/index.ts';

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

const requestIdPattern = /^[A-Za-z0-9._-]{1,128}$/;

// Paths that carry a secret (spec 002's public conversation token) are masked in logs.
const maskSecretsInUrl = (url: string) => url.replace(/(\/public\/messages\/)[^/?]+/, '$1***');

export interface AppOptions {
  services: Services;
  /** pino options, or false for no logs (tests). */
  logger: FastifyServerOptions['logger'];
}

/** Builds the Fastify application: plugins, error handling, metrics, docs and every surface. Does not listen. */
export async function buildApp({ services, logger }: AppOptions): Promise<App> {
  const app = Fastify({
    logger,
    bodyLimit: services.config.bodyLimitBytes,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    routerOptions: { ignoreTrailingSlash: false },
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // OAuth clients post application/x-www-form-urlencoded (RFC 6749 section 4.3).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.setErrorHandler((error, request, reply) => sendError(request, reply, error as Error));
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new AppError('not_found', `Route ${request.method} ${maskSecretsInUrl(request.url.split('?')[0]!)} not found`)),
  );

  const metrics = registerMetrics(app);
  await registerDocs(app);
  registerSurfaces(app, services, { metrics });
  return app;
}

/** Log options: never a header (Authorization, cookies), and secret path segments masked. */
export function logOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    serializers: {
      req: (request: { method: string; url: string; ip?: string }) => ({ method: request.method, url: maskSecretsInUrl(request.url), ip: request.ip }),
    },
  };
}
