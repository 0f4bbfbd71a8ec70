import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, requireAdmin, security } from '../../auth.ts';
import { authErrors, ErrorBody, IdOrUuid } from '../../schemas/common.ts';
import { KeyLimits } from '../../schemas/keys.ts';
import { ApiKeyWithRemainingBody, LimitsOverviewBody, toLimitsOverviewBody } from '../../schemas/limits.ts';

/** What is left of each limit, and a key's own limits after its creation. */
export function registerLimitsRoutes(app: App, services: Services) {
  const tags = ['plans and limits'];

  app.get(
    '/api/v1/limits',
    {
      onRequest: authenticate(services),
      schema: {
        tags,
        security,
        summary: "Your limits (your plan's, and your key's own) with what is used and left of each",
        querystring: Type.Object({
          user: Type.Optional(
            Type.String({ maxLength: 64, description: "Admins: another user's limits (username, id or UUID)" }),
          ),
        }),
        response: { 200: LimitsOverviewBody, ...authErrors, 403: ErrorBody },
      },
    },
    async (request) =>
      toLimitsOverviewBody(await services.limits.overview(principalOf(request), { user: request.query.user })),
  );

  app.put(
    '/api/v1/keys/:key_id/limits',
    {
      onRequest: [authenticate(services), requireAdmin],
      schema: {
        tags,
        security,
        summary: "Replace a key's own limits (admin); {} removes them",
        params: Type.Object({ key_id: IdOrUuid }),
        body: KeyLimits,
        response: { 200: ApiKeyWithRemainingBody, ...authErrors, 403: ErrorBody },
      },
    },
    async (request) => services.limits.setKeyLimits(principalOf(request), request.params.key_id, request.body),
  );
}
