import { readFileSync } from 'node:fs';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';

const widget = readFileSync(new URL('../../../web/widget.js', import.meta.url), 'utf8');

/** The embeddable chat widget of public agents, served by Causerie itself (no third-party host). */
export function registerWidgetRoutes(app: App, _services: Services) {
  app.get(
    '/widget.js',
    {
      schema: {
        tags: ['public agents (the public-agents dialect)'],
        summary: 'The chat widget a web page embeds with <script src=".../widget.js" data-public-key data-agent async>',
        response: {
          200: {
            description: 'The widget script',
            content: { 'application/javascript': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_request, reply) =>
      reply
        .type('application/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=300')
        .header('x-content-type-options', 'nosniff')
        .send(widget),
  );
}
