import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, requireAdmin, security } from '../../auth.ts';
import { authErrors, ErrorBody, UserReference, Pagination } from '../../schemas/common.ts';
import { UserBody } from '../../schemas/users.ts';

/** Who am I, and the admin's view of accounts. */
export function registerAccountRoutes(app: App, services: Services) {
  const tags = ['users'];
  app.get(
    '/api/v1/me',
    {
      onRequest: authenticate(services),
      schema: {
        tags,
        security,
        summary: 'The authenticated user and how they authenticated',
        response: {
          200: Type.Object({
            user: UserBody,
            authenticated_with: Type.String(),
            api_key_id: Type.Union([Type.Integer(), Type.Null()]),
          }),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return { user: principal.user, authenticated_with: principal.via, api_key_id: principal.apiKeyId ?? null };
    },
  );

  app.put(
    '/api/v1/me/password',
    {
      onRequest: authenticate(services),
      schema: {
        tags,
        security,
        summary: 'Change your password; every sign-in of the account ends (API keys keep working)',
        body: Type.Object(
          {
            current_password: Type.String({ minLength: 1, maxLength: 1024 }),
            new_password: Type.String({ minLength: 1, maxLength: 1024 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ message: Type.String() }), ...authErrors, 429: ErrorBody },
      },
    },
    async (request) => {
      await services.auth.changePassword(
        principalOf(request),
        { current: request.body.current_password, next: request.body.new_password },
        request.ip,
      );
      return { message: 'Password changed; every sign-in of this account has ended' };
    },
  );

  app.post(
    '/api/v1/me/sign-out-everywhere',
    {
      onRequest: authenticate(services),
      schema: {
        tags,
        security,
        summary: 'End every sign-in of your account: all access and refresh tokens stop working (API keys do not)',
        response: { 200: Type.Object({ revoked_sign_ins: Type.Integer() }), ...authErrors },
      },
    },
    async (request) => ({ revoked_sign_ins: await services.auth.signOutEverywhere(principalOf(request)) }),
  );

  app.get(
    '/api/v1/users',
    {
      onRequest: [authenticate(services), requireAdmin],
      schema: {
        tags,
        security,
        summary: 'List users (admin)',
        querystring: Pagination,
        response: { 200: Type.Array(UserBody), ...authErrors, 403: ErrorBody },
      },
    },
    async (request) =>
      services.users.list(principalOf(request), {
        limit: request.query.limit ?? 50,
        offset: request.query.offset ?? 0,
      }),
  );

  app.patch(
    '/api/v1/users/:username',
    {
      onRequest: [authenticate(services), requireAdmin],
      schema: {
        tags,
        security,
        summary: 'Disable or re-enable an account (admin)',
        params: Type.Object({ username: UserReference }),
        body: Type.Object({ disabled: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: UserBody, ...authErrors, 403: ErrorBody },
      },
    },
    async (request) => services.users.setDisabled(principalOf(request), request.params.username, request.body.disabled),
  );
}
