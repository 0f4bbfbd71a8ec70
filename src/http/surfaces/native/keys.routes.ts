import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { authErrors, ErrorBody, IdOrUuid } from '../../schemas/common.ts';
import { ApiKeyBody, CreateApiKeyBody, CreatedApiKeyBody } from '../../schemas/keys.ts';
import { ApiKeyWithRemainingBody } from '../../schemas/limits.ts';

/** The sessions dialect's API keys: created (shown once), listed, read and revoked under /api/v1/keys. */
export function registerKeysRoutes(app: App, services: Services) {
  // Authentication runs on onRequest: a caller without valid credentials gets 401 before any body is parsed or validated.
  const base = { onRequest: authenticate(services) };
  const tags = ['api keys'];
  const KeyParams = Type.Object({ key_id: IdOrUuid });

  app.post(
    '/api/v1/keys',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Create an API key (the full key is returned once)',
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKeyBody, ...authErrors, 403: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { key, apiKey } = await services.apiKeys.create(principalOf(request), request.body);
      return reply.code(201).send({ ...apiKey, key });
    },
  );

  app.get(
    '/api/v1/keys',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: "List your API keys (admins: ?all=true for everyone's)",
        querystring: Type.Object({
          all: Type.Optional(Type.Boolean()),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 100 }),
          offset: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 }),
        }),
        response: { 200: Type.Array(ApiKeyBody), ...authErrors },
      },
    },
    async (request) => services.apiKeys.list(principalOf(request), request.query),
  );

  app.get(
    '/api/v1/keys/:key_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Read one API key, with what is left of each of its limits',
        params: KeyParams,
        response: { 200: ApiKeyWithRemainingBody, ...authErrors },
      },
    },
    async (request) => services.limits.keyWithRemaining(principalOf(request), request.params.key_id),
  );

  app.delete(
    '/api/v1/keys/:key_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Revoke an API key (effective on the next request)',
        params: KeyParams,
        response: { 200: ApiKeyBody, ...authErrors },
      },
    },
    async (request) => services.apiKeys.revoke(principalOf(request), request.params.key_id),
  );
}
