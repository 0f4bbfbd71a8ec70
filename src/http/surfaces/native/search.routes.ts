import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { clientGone } from '../../client-gone.ts';
import { authErrors, ErrorBody } from '../../schemas/common.ts';
import { SearchAnswerBody, SearchQuery, SearchStatusBody, toSearchInput } from '../../schemas/search.ts';

/** Search over your own conversations (docs/search.md), and how far the index is. */
export function registerSearchRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['search'];

  app.get(
    '/api/v1/search',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Search your messages by words (keyword), by meaning (semantic) or both (hybrid, default)',
        querystring: SearchQuery,
        response: { 200: SearchAnswerBody, ...authErrors, 502: ErrorBody },
      },
    },
    async (request, reply) =>
      services.search.search(principalOf(request), toSearchInput(request.query), { signal: clientGone(reply) }),
  );

  app.get(
    '/api/v1/search/status',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'How far indexing is: texts indexed, embedded, waiting and failed, and the embedding model',
        response: { 200: SearchStatusBody, 401: ErrorBody },
      },
    },
    async () => services.search.status(),
  );
}
