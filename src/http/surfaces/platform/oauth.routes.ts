import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';

const TokenRequest = Type.Object(
  {
    grant_type: Type.String({ description: 'password or refresh_token' }),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
    refresh_token: Type.Optional(Type.String()),
    scope: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  refresh_token: Type.String(),
});

const OAuthErrorBody = Type.Object({ error: Type.String(), error_description: Type.String() });

/** RFC 6749 token endpoint: password and refresh_token grants; form-encoded or JSON bodies. */
export function registerOAuthRoutes(app: App, services: Services) {
  app.post(
    '/oauth/token',
    {
      config: { surface: 'oauth' },
      schema: {
        tags: ['auth'],
        summary: 'Get an access token (password grant) or rotate a refresh token',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: TokenRequest,
        response: { 200: TokenResponse, 400: OAuthErrorBody, 401: OAuthErrorBody },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      return services.auth.grant(request.body, request.ip);
    },
  );

  app.post(
    '/oauth/revoke',
    {
      config: { surface: 'oauth' },
      schema: {
        tags: ['auth'],
        summary: 'Sign out: revoke the sign-in a refresh or access token belongs to (RFC 7009)',
        description:
          'Every access and refresh token of that sign-in stops working. Answers 200 for unknown tokens too, as RFC 7009 asks.',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: Type.Object(
          {
            token: Type.String({ minLength: 1, maxLength: 4096 }),
            token_type_hint: Type.Optional(Type.String({ maxLength: 40 })),
          },
          { additionalProperties: true },
        ),
        response: { 200: Type.Object({}), 400: OAuthErrorBody },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      await services.auth.revoke(request.body.token);
      return {};
    },
  );
}
