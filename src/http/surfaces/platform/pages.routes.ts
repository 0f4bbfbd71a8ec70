import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { aboutPage, homePage } from '../../../web/pages.ts';

// Spec 000: "la fausse page admin (redirection : Rickroll)".
export const rickrollUrl = 'https://www.youtube.com/watch?v=dQw4w9WgXcQ';

export function registerPagesRoutes(app: App, services: Services) {
  const html = { produces: ['text/html'] };
  app.get('/', { schema: { tags: ['pages'], summary: 'Home page: what this server is, its models, links to the docs', ...html } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(homePage(await services.models.summaries())),
  );
  app.get('/about', { schema: { tags: ['pages'], summary: 'About page', ...html } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(aboutPage(services.version)),
  );
  app.get('/admin', { schema: { tags: ['pages'], summary: 'The fake admin page: a 302 to the Rickroll video (spec 000)' } }, async (_request, reply) =>
    reply.redirect(rickrollUrl, 302),
  );
}
