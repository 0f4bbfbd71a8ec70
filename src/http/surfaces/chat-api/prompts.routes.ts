import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { clientGone } from '../../client-gone.ts';
import { authErrors, ErrorBody } from '../../schemas/common.ts';
import {
  CreatePromptBody,
  PreviewBody,
  PreviewReply,
  PromptBody,
  PromptListQuery,
  PromptListReply,
  PromptParams,
  UpdatePromptBody,
} from '../../schemas/prompts.ts';

const modelErrors = { 429: ErrorBody, 502: ErrorBody, 503: ErrorBody, 504: ErrorBody };

/**
 * The chat-API dialect's prompt management under /api/chat/prompts: your prompt templates and the built-in
 * ones, rendered with {variables}, previewed by a model.
 */
export function registerPromptsRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['prompts (the chat-API dialect)'];

  app.post(
    '/api/chat/prompts',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Create a prompt template',
        body: CreatePromptBody,
        response: { 200: PromptBody, ...authErrors },
      },
    },
    async (request) => services.prompts.create(principalOf(request), request.body),
  );

  app.get(
    '/api/chat/prompts',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Your prompts and the built-in templates, filtered and paginated',
        querystring: PromptListQuery,
        response: { 200: PromptListReply, ...authErrors },
      },
    },
    async (request) => {
      const { scenario, include_templates: includeTemplates, search, page, page_size: pageSize } = request.query;
      const result = await services.prompts.list(principalOf(request), {
        scenario,
        includeTemplates,
        search,
        limit: pageSize,
        offset: (page - 1) * pageSize,
      });
      return { items: result.items, total: result.total, page, page_size: pageSize };
    },
  );

  app.post(
    '/api/chat/prompts/preview',
    {
      ...base,
      schema: {
        tags,
        security,
        summary:
          'Render a prompt with its variables and show what a model answers (or only the text, with render_only)',
        description:
          'Give prompt_id (yours or a template) or content. A variable the prompt uses but `variables` lacks is a 400 naming it; ' +
          'variables it does not use are listed in unused_variables. The model call counts against your limits like any completion.',
        body: PreviewBody,
        response: { 200: PreviewReply, ...authErrors, ...modelErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      return services.prompts.preview(
        principalOf(request),
        { ...body, variables: body.variables ?? {} },
        { signal: clientGone(reply) },
      );
    },
  );

  app.get(
    '/api/chat/prompts/:prompt_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Read a prompt (yours or a template)',
        params: PromptParams,
        response: { 200: PromptBody, ...authErrors },
      },
    },
    async (request) => services.prompts.get(principalOf(request), request.params.prompt_id),
  );

  app.put(
    '/api/chat/prompts/:prompt_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Update a prompt: the fields given change, the others stay (built-in templates: 403)',
        params: PromptParams,
        body: UpdatePromptBody,
        response: { 200: PromptBody, 403: ErrorBody, ...authErrors },
      },
    },
    async (request) => services.prompts.update(principalOf(request), request.params.prompt_id, request.body),
  );

  app.delete(
    '/api/chat/prompts/:prompt_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Delete a prompt (built-in templates: 403)',
        params: PromptParams,
        response: { 200: Type.Object({ message: Type.String() }), 403: ErrorBody, ...authErrors },
      },
    },
    async (request) => {
      await services.prompts.delete(principalOf(request), request.params.prompt_id);
      return { message: 'Prompt deleted successfully' };
    },
  );
}
