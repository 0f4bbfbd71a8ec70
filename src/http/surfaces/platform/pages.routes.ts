import type { FastifyReply } from 'fastify';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { aboutPage, homePage } from '../../../web/pages.ts';
import { htmlPage } from '../../docs.ts';

// Spec 000: "la fausse page admin (redirection : Rickroll)".
export const rickrollUrl = 'https://www.youtube.com/watch?v=dQw4w9WgXcQ';

// The pages carry their styles inline and load nothing; no other site may frame them.
const pagePolicy =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const sendPage = (reply: FastifyReply, html: string) =>
  reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', pagePolicy)
    .header('x-frame-options', 'DENY')
    .send(html);

export function registerPagesRoutes(app: App, services: Services) {
  const tags = ['pages'];

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'Home page: what this server is, its models, links to the docs',
        response: { 200: htmlPage('The home page') },
      },
    },
    async (_request, reply) => sendPage(reply, homePage(await services.models.list())),
  );
  app.get(
    '/about',
    { schema: { tags, summary: 'About page', response: { 200: htmlPage('The about page') } } },
    async (_request, reply) => sendPage(reply, aboutPage(services.version)),
  );
  app.get(
    '/admin',
    {
      schema: {
        tags,
        summary: 'The fake admin page: a 302 to the Rickroll video (spec 000)',
        response: { 302: { description: `Redirect to ${rickrollUrl}`, type: 'null' } },
      },
    },
    async (_request, reply) => reply.redirect(rickrollUrl, 302),
  );
}
