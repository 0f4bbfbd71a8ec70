import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { clientGone } from '../../client-gone.ts';
import { authErrors, ErrorBody } from '../../schemas/common.ts';
import { SearchAnswerBody, SearchQuery, toSearchInput } from '../../schemas/search.ts';

/**
 * The chat-service dialect lists search among its resources ("recherche sémantique dans les historiques de
 * conversations") without a route; GET /search is ours, and answers as GET /api/v1/search does.
 */
export function registerChatServiceSearchRoutes(app: App, services: Services) {
  app.get(
    '/search',
    {
      onRequest: authenticate(services),
      schema: {
        tags: ['chat service (the chat-service dialect)'],
        security,
        summary: "Search your conversations' history (keyword, semantic or hybrid); same as GET /api/v1/search",
        querystring: SearchQuery,
        response: { 200: SearchAnswerBody, ...authErrors, 502: ErrorBody },
      },
    },
    async (request, reply) =>
      services.search.search(principalOf(request), toSearchInput(request.query), { signal: clientGone(reply) }),
  );
}
