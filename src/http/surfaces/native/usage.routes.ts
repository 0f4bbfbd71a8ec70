import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { authErrors, ErrorBody } from '../../schemas/common.ts';
import { toUsageReportBody, UsageQuery, UsageReportBody } from '../../schemas/limits.ts';

/** Usage reporting over the ledger: requests, tokens and cost by day, model or key. */
export function registerUsageRoutes(app: App, services: Services) {
  app.get(
    '/api/v1/usage',
    {
      onRequest: authenticate(services),
      schema: {
        tags: ['plans and limits'],
        security,
        summary: 'Your usage between from and to, grouped by day, model and/or key',
        querystring: UsageQuery,
        response: { 200: UsageReportBody, ...authErrors, 403: ErrorBody },
      },
    },
    async (request) => toUsageReportBody(await services.usage.report(principalOf(request), request.query)),
  );
}
