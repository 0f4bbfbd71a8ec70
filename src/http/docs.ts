import { readFile } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { App } from './app.ts';
import { ErrorBody } from './schemas/common.ts';

interface OpenApiDocument {
  paths?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

/** An HTML page as a response schema, so the OpenAPI document says what the route returns. */
export const htmlPage = (description: string) => ({
  description,
  content: { 'text/html': { schema: { type: 'string' } } },
});

/**
 * @fastify/swagger-ui hides its own routes from the document; the sessions dialect lists GET /api/v1/docs
 * as a route, so its page is described here by hand.
 */
function withSwaggerUiPage(document: OpenApiDocument): OpenApiDocument {
  const page = {
    get: {
      tags: ['docs'],
      summary: 'API reference rendered by Swagger UI',
      responses: {
        200: htmlPage('The Swagger UI page'),
        431: { description: 'Request headers too large', content: { 'application/json': { schema: ErrorBody } } },
      },
    },
  };
  return { ...document, paths: { '/api/v1/docs': page, ...document.paths } };
}

const redocPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Causerie API \u2014 Redoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/api/v1/openapi.json"></redoc>
<script src="/api/v1/redoc/redoc.standalone.js"></script></body></html>`;

// The Redoc page may load from this server only (Redoc injects styles and runs its search in a
// blob: worker), in case a future Redoc reaches for another remote asset.
const redocPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'self'",
].join('; ');

/**
 * Redoc's self-contained browser bundle, kept in the repository (the npm package would bring a hundred packages
 * for this one file), with its one remote asset (the menu footer's logo) swapped for an empty inline image.
 */
async function readRedocBundle(): Promise<string> {
  const bundle = await readFile(new URL('../web/vendor/redoc/redoc.standalone.js', import.meta.url), 'utf8');
  return bundle.replaceAll(
    'https://cdn.redoc.ly/redoc/logo-mini.svg',
    "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>",
  );
}

const methodsWithBodies = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Statuses any route can answer before or around its handler, added to every route's documented
 * responses so a route added later documents them too: 431 (headers too large, answered before the
 * request is read, so always in the native shape); on routes with parameters, 400 (an invalid
 * one); on routes that may carry a body, 400 (malformed JSON), 413 (too large) and 415 (not JSON); on routes that accept credentials, 401 (wrong
 * ones) and 429 (too many wrong passwords from this address or for this username). Each in the
 * shape the route already documents for its errors.
 */
export function documentCommonErrors(route: RouteOptions) {
  const schema = route.schema as
    | {
        hide?: boolean;
        response?: Record<string, unknown>;
        security?: object[];
        params?: unknown;
        querystring?: unknown;
      }
    | undefined;
  if (!schema?.response || schema.hide) return;
  const response = schema.response;
  const errorShape = response[400] ?? response[401] ?? response[404] ?? response[403] ?? ErrorBody;
  const add = (status: number, shape: unknown = errorShape) => {
    response[status] ??= shape;
  };
  add(431, ErrorBody);
  if (schema.params || schema.querystring) add(400);
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (methods.some((method) => methodsWithBodies.has(method))) for (const status of [400, 413, 415]) add(status);
  if (schema.security?.some((requirement) => Object.keys(requirement).length > 0)) {
    add(401);
    add(429);
  }
}

const swaggerOptions = {
  transformObject: (documentObject: unknown) =>
    withSwaggerUiPage((documentObject as { openapiObject: OpenApiDocument }).openapiObject),
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Causerie',
      version: '0.1.0',
      description:
        'A self-hostable chat API server. Five route dialects over one domain model: see docs/compatibility.md.',
    },
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key (API_\u2026) or an OAuth access token from POST /oauth/token.',
        },
        basicAuth: { type: 'http', scheme: 'basic', description: 'Username and password.' },
        publicKeyAuth: {
          type: 'http',
          scheme: 'bearer',
          description: "An agent's public key (PUB_\u2026): it only gets client tokens (the public-agents dialect).",
        },
      },
    },
  },
} as const;

/**
 * The documentation's own Fastify instance, built with the first request for the document or the
 * UI: @fastify/swagger and @fastify/swagger-ui, with every documented route of the server replayed
 * into it (schema and options; its handlers never run, so no validator is compiled). Loading them at
 * start-up cost ~3 MiB at rest for pages most servers never serve (decision 026).
 */
async function buildDocsApp(routes: RouteOptions[]) {
  const [{ default: Fastify }, { default: swagger }, { default: swaggerUi }] = await Promise.all([
    import('fastify'),
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
  ]);
  const docs = Fastify({ routerOptions: { ignoreTrailingSlash: false } });
  docs.setValidatorCompiler(() => () => true);
  docs.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await docs.register(swagger, swaggerOptions as Parameters<typeof swagger>[1]);
  await docs.register(swaggerUi, { routePrefix: '/api/v1/docs', uiConfig: { deepLinking: true }, staticCSP: true });
  const never = async () => undefined;
  for (const { method, url, schema, config, constraints } of routes) {
    docs.route({ method, url, schema, config, constraints, handler: never });
  }
  await docs.ready();
  return docs;
}

// Hop-by-hop and length headers: the server's own reply sets them.
const headersNotCopied = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

/**
 * The OpenAPI document is generated from the route schemas. Swagger UI and Redoc are served by
 * this server, never from a CDN, so the docs work on a machine without internet.
 */
export async function registerDocs(app: App) {
  app.addHook('onRoute', documentCommonErrors);
  // What @fastify/swagger would list: HEAD routes and hidden ones never appear in the document.
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    if (route.method !== 'HEAD' && !hidden) routes.push(route);
  });
  let docsApp: ReturnType<typeof buildDocsApp> | undefined;
  const docs = () => {
    if (!docsApp) {
      docsApp = buildDocsApp(routes);
      // A failed build (a file unreadable, say) is tried again with the next request.
      docsApp.catch(() => {
        docsApp = undefined;
      });
    }
    return docsApp;
  };

  // Swagger UI's pages, answered by the documentation's instance and sent through this server's reply
  // (its hooks, headers and logs, as any other route).
  const ui = async (request: FastifyRequest, reply: FastifyReply) => {
    // Asked as GET even for HEAD: this server's HEAD route then drops the body but keeps its length.
    const answer = await (await docs()).inject({
      method: 'GET',
      url: request.url,
      headers: request.headers,
    });
    if (answer.statusCode === 404) return reply.callNotFound();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !headersNotCopied.has(name)) reply.header(name, value);
    }
    reply.code(answer.statusCode);
    // An empty answer (a redirect, HEAD) is sent as none, so no content type is added to it.
    return answer.rawPayload.length > 0 ? reply.send(answer.rawPayload) : reply.send();
  };
  const hidden = { schema: { hide: true } };
  app.get('/api/v1/docs', hidden, ui);
  app.get('/api/v1/docs/*', hidden, ui);
  app.get(
    '/api/v1/openapi.json',
    {
      schema: {
        tags: ['docs'],
        summary: 'The OpenAPI 3.1 document of every route',
        response: {
          200: {
            description: 'The OpenAPI document',
            content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } },
          },
        },
      },
    },
    async () => (await docs()).swagger() as unknown as Record<string, unknown>,
  );
  app.get(
    '/api/v1/redoc',
    {
      schema: {
        tags: ['docs'],
        summary: 'API reference rendered by Redoc',
        response: { 200: htmlPage('The Redoc page') },
      },
    },
    async (_request, reply) =>
      reply.type('text/html; charset=utf-8').header('content-security-policy', redocPolicy).send(redocPage),
  );
  let redocBundle: Promise<string> | undefined;
  app.get('/api/v1/redoc/redoc.standalone.js', hidden, async (_request, reply) => {
    redocBundle ??= readRedocBundle();
    return reply
      .type('application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=86400')
      .send(await redocBundle);
  });
}
