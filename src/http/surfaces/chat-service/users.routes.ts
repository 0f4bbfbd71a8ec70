import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { authErrors, ErrorBody } from '../../schemas/common.ts';
import { UserBody } from '../../schemas/users.ts';

const CreateUserBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    role: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('user')], { description: 'Admins only' })),
  },
  { additionalProperties: false },
);

/**
 * The chat-service dialect's users. The document echoes the password back on creation; Causerie never returns a
 * password or its hash (docs/compatibility.md).
 */
export function registerUsersRoutes(app: App, services: Services) {
  const tags = ['users'];
  // Credentials are optional here (open sign-up) but, when sent, must be valid.
  const optionalAuth = async (request: Parameters<ReturnType<typeof authenticate>>[0]) => {
    if (request.headers.authorization) await authenticate(services)(request);
  };

  app.post(
    '/users',
    {
      onRequest: optionalAuth,
      schema: {
        tags,
        security: [{}, ...security],
        summary: 'Create a user (open sign-up unless disabled; admins may create admins)',
        body: CreateUserBody,
        response: { 201: UserBody, 400: ErrorBody, 403: ErrorBody, 409: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await services.users.create(request.principal, request.body, request.ip)),
  );

  app.get(
    '/users/:username',
    {
      onRequest: authenticate(services),
      schema: {
        tags,
        security,
        summary: 'Read a user by username, id or UUID (yourself, or anyone for admins)',
        params: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: UserBody, ...authErrors },
      },
    },
    async (request) => services.users.get(principalOf(request), request.params.username),
  );
}
