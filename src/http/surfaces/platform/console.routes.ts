import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '../../../lib/type.ts';
import { OAuthError } from '../../../domain/auth/auth.service.ts';
import { AppError } from '../../../domain/errors.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { ErrorBody } from '../../schemas/common.ts';
import { htmlPage } from '../../docs.ts';

/** Where the refresh-token cookie is sent: the token route only, never the API. */
export const consoleTokenPath = '/console/token';
export const consoleCookie = 'causerie_console';

// Scripts and styles from this server only (no inline ones), API calls to it only, no framing.
const consolePolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const assetTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

/** The console's files, read once at start: a fixed set, so no request can name a path outside it. */
function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const folder = fileURLToPath(new URL('../../../web/console/', import.meta.url));
  const assets = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(folder)) {
    const type = assetTypes[extname(name)];
    if (type) assets.set(name, { body: readFileSync(join(folder, name)), type });
  }
  return assets;
}

const TokenAnswer = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'Seconds the access token is valid' }),
});

const SignInBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

/**
 * The token routes take a cookie, which a browser sends whatever page asked: only a page of this
 * very server may use them. The Origin header (always sent by browsers on POST and DELETE) must
 * name the host the request was addressed to.
 */
function requireSameOrigin(request: FastifyRequest): { secure: boolean } {
  const origin = request.headers.origin;
  let parsed: URL | undefined;
  try {
    parsed = origin ? new URL(origin) : undefined;
  } catch {}
  if (!parsed || parsed.host !== request.headers.host)
    throw new AppError(
      'forbidden',
      'Origin does not match this server: the console signs in from its own page only (behind a proxy, forward the Host header)',
    );
  // The browser's own view of the scheme: behind a TLS-terminating proxy the socket is plain HTTP.
  return { secure: parsed.protocol === 'https:' };
}

function readCookie(request: FastifyRequest): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== consoleCookie) continue;
    try {
      return decodeURIComponent(value.join('='));
    } catch {
      return undefined; // not a value this server set: as good as no cookie
    }
  }
  return undefined;
}

function setCookie(reply: FastifyReply, value: string, maxAgeSeconds: number, secure: boolean) {
  reply.header(
    'set-cookie',
    `${consoleCookie}=${encodeURIComponent(value)}; Path=${consoleTokenPath}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`,
  );
}

// 401 without a Basic challenge, so a browser never opens its own password dialog over the console.
const consoleChallenge = { 'www-authenticate': 'Bearer realm="causerie-console"' };

/** A refused sign-in or refresh in the console's words (401, not the OAuth surface's 400). */
async function signInOr401<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof OAuthError) throw new AppError('unauthorized', error.message, { headers: consoleChallenge });
    throw error;
  }
}

/**
 * The web console: its page and files, and the three routes that keep its sign-in. The access
 * token lives in the page's memory; the refresh token in an HttpOnly cookie only the token route
 * receives (see docs/console.md).
 */
export function registerConsoleRoutes(app: App, services: Services) {
  const tags = ['console'];
  const assets = loadAssets();
  const refreshSeconds = services.config.refreshTokenSeconds;
  const tokenErrors = { 401: ErrorBody, 403: ErrorBody, 429: ErrorBody };

  const sendAsset = (reply: FastifyReply, name: string) => {
    const asset = assets.get(name);
    if (!asset) throw new AppError('not_found', `Console file ${name} not found`);
    reply.type(asset.type).header('cache-control', 'no-cache');
    if (asset.type.startsWith('text/html'))
      reply.header('content-security-policy', consolePolicy).header('x-frame-options', 'DENY');
    return reply.send(asset.body);
  };

  app.get(
    '/console',
    {
      schema: {
        tags,
        summary: 'The web console: keys, usage, limits, models, agents, conversations and a playground',
        response: { 200: htmlPage('The console page (its scripts sign in and call the API)') },
      },
    },
    async (_request, reply) => sendAsset(reply, 'index.html'),
  );

  app.get(
    '/console/assets/:file',
    {
      schema: {
        tags,
        summary: "One of the console's scripts or style sheets",
        params: Type.Object({ file: Type.String({ pattern: '^[a-z0-9-]+\\.(js|css)$', maxLength: 64 }) }),
        response: {
          200: {
            description: 'The file',
            content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } },
          },
          404: ErrorBody,
        },
      },
    },
    async (request, reply) => sendAsset(reply, request.params.file),
  );

  app.post(
    '/console/sign-in',
    {
      schema: {
        tags,
        summary: 'Console sign-in: username and password for an access token; the refresh token goes in a cookie',
        description:
          'The password grant of POST /oauth/token, for the console page only (the Origin must be this server). ' +
          `The refresh token is set as an HttpOnly, SameSite=Strict cookie with Path=${consoleTokenPath} and is never in the body.`,
        body: SignInBody,
        response: { 200: TokenAnswer, ...tokenErrors },
      },
    },
    async (request, reply) => {
      const { secure } = requireSameOrigin(request);
      const tokens = await signInOr401(() =>
        services.auth.grant({ grant_type: 'password', ...request.body }, request.ip),
      );
      setCookie(reply, tokens.refresh_token, refreshSeconds, secure);
      reply.header('cache-control', 'no-store');
      return { access_token: tokens.access_token, token_type: tokens.token_type, expires_in: tokens.expires_in };
    },
  );

  app.post(
    consoleTokenPath,
    {
      schema: {
        tags,
        summary: "Console: exchange the sign-in cookie for a fresh access token (the cookie's refresh token rotates)",
        description:
          'Reads only the console cookie (no Authorization header, no body); the Origin must be this server.',
        response: { 200: TokenAnswer, ...tokenErrors },
      },
    },
    async (request, reply) => {
      const { secure } = requireSameOrigin(request);
      reply.header('cache-control', 'no-store');
      const refreshToken = readCookie(request);
      if (!refreshToken)
        throw new AppError('unauthorized', 'Not signed in to the console', { headers: consoleChallenge });
      try {
        const tokens = await signInOr401(() =>
          services.auth.grant({ grant_type: 'refresh_token', refresh_token: refreshToken }, request.ip),
        );
        setCookie(reply, tokens.refresh_token, refreshSeconds, secure);
        return { access_token: tokens.access_token, token_type: tokens.token_type, expires_in: tokens.expires_in };
      } catch (error) {
        // A cookie that no longer works is dropped, so the page shows the sign-in form.
        setCookie(reply, '', 0, secure);
        throw error;
      }
    },
  );

  app.delete(
    consoleTokenPath,
    {
      schema: {
        tags,
        summary: 'Console sign-out: revoke the sign-in of the cookie (its access tokens too) and clear the cookie',
        response: { 204: Type.Null({ description: 'Signed out' }), 403: ErrorBody },
      },
    },
    async (request, reply) => {
      const { secure } = requireSameOrigin(request);
      const refreshToken = readCookie(request);
      if (refreshToken) await services.auth.revoke(refreshToken);
      setCookie(reply, '', 0, secure);
      return reply.code(204).send(null);
    },
  );
}
