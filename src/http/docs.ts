import { readFile } from 'node:fs/promises';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { App } from './app.ts';

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
 * @fastify/swagger-ui hides its own routes from the document; spec 000 lists GET /api/v1/docs
 * as a route, so its page is described here by hand.
 */
function withSwaggerUiPage(document: OpenApiDocument): OpenApiDocument {
  const page = {
    get: {
      tags: ['docs'],
      summary: 'API reference rendered by Swagger UI',
      responses: { 200: htmlPage('The Swagger UI page') },
    },
  };
  return { ...document, paths: { '/api/v1/docs': page, ...document.paths } };
}

const redocPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Causerie API — Redoc</title>
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

/**
 * The OpenAPI document is generated from the route schemas. Swagger UI and Redoc are served by
 * this server, never from a CDN, so the docs work on a machine without internet.
 */
export async function registerDocs(app: App) {
  await app.register(swagger, {
    transformObject: (documentObject) =>
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
            description: 'An API key (API_…) or an OAuth access token from POST /oauth/token.',
          },
          basicAuth: { type: 'http', scheme: 'basic', description: 'Username and password.' },
          publicKeyAuth: {
            type: 'http',
            scheme: 'bearer',
            description: "An agent's public key (PUB_…): it only gets client tokens (spec 002).",
          },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/v1/docs', uiConfig: { deepLinking: true }, staticCSP: true });

  const hidden = { schema: { hide: true } };
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
    async () => app.swagger() as unknown as Record<string, unknown>,
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
