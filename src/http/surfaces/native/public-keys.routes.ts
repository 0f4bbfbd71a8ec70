import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { authErrors, IdOrUuid } from '../../schemas/common.ts';
import {
  CreatedPublicKeyBody,
  CreatePublicKeyBody,
  PublicKeyBody,
  PublicKeyEventBody,
} from '../../schemas/public-agents.ts';

/**
 * An agent's public keys (the public-agents dialect), managed by its owner: created for some web origins, listed,
 * revoked, and the suspicious uses they saw. Under /api/v1/agents, apart from the agents' own
 * routes under /api/v1/models/agents.
 */
export function registerPublicKeysRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['public agents (the public-agents dialect)'];
  const AgentParams = Type.Object({ agent_id: IdOrUuid });

  app.post(
    '/api/v1/agents/:agent_id/public-keys',
    {
      ...base,
      schema: {
        tags,
        security,
        summary:
          'Create a public key for an agent (the key is returned once); it only mints client tokens from the allowed origins',
        params: AgentParams,
        body: CreatePublicKeyBody,
        response: { 201: CreatedPublicKeyBody, ...authErrors },
      },
    },
    async (request, reply) => {
      const { key, publicKey } = await services.publicKeys.create(
        principalOf(request),
        request.params.agent_id,
        request.body,
      );
      return reply.code(201).send({ ...publicKey, key });
    },
  );

  app.get(
    '/api/v1/agents/:agent_id/public-keys',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: "An agent's public keys, revoked ones included",
        params: AgentParams,
        response: { 200: Type.Array(PublicKeyBody), ...authErrors },
      },
    },
    async (request) => services.publicKeys.list(principalOf(request), request.params.agent_id),
  );

  app.delete(
    '/api/v1/public-keys/:key_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Revoke a public key and every client token it minted',
        params: Type.Object({ key_id: IdOrUuid }),
        response: { 200: PublicKeyBody, ...authErrors },
      },
    },
    async (request) => services.publicKeys.revoke(principalOf(request), request.params.key_id),
  );

  app.get(
    '/api/v1/agents/:agent_id/public-events',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: "Suspicious uses of an agent's public keys and tokens (refused and revoked), newest first",
        params: AgentParams,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 50 }),
          offset: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 }),
        }),
        response: { 200: Type.Array(PublicKeyEventBody), ...authErrors },
      },
    },
    async (request, reply) => {
      const page = await services.publicKeys.events(principalOf(request), request.params.agent_id, request.query);
      reply.header('x-total-count', String(page.total));
      return page.items;
    },
  );
}
