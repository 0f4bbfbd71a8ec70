import { Type } from '../../../lib/type.ts';
import { invalid } from '../../../domain/errors.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { collectReply, streamReply } from '../../conversation-runs.ts';
import { idempotencyOf } from '../../idempotency.ts';
import { clientGone } from '../../client-gone.ts';
import { renderError } from '../../errors.ts';
import { sendSourcesEvent, sourcesOf } from '../../web-sources.ts';
import { authErrors, ErrorBody, generationSettings, IdOrUuid } from '../../schemas/common.ts';
import {
  ChatReply,
  ChatStreamBody,
  DeletedReply,
  HistoryQuery,
  HistoryReply,
  roleAndContent,
  SwitchModelBody,
  SwitchModelReply,
  switchModelMessages,
  toHistorySession,
} from '../../schemas/conversations-chat-api.ts';
import { CancelResult } from '../../schemas/conversations.ts';

const modelErrors = { 409: ErrorBody, 429: ErrorBody, 502: ErrorBody, 503: ErrorBody, 504: ErrorBody };

/**
 * A date filter as clients send it: ISO 8601 with or without a zone (Python's isoformat() has
 * none; it is read as UTC) or a plain date. Normalized to the stored form for text comparison.
 */
function parseDate(raw: string | undefined, field: string): string | undefined {
  if (raw === undefined) return undefined;
  const zoned = /^\d{4}-\d{2}-\d{2}T[^Zz+-]*(\.\d+)?$/.test(raw) ? `${raw}Z` : raw;
  const ms = /^\d{4}-\d{2}-\d{2}([Tt ][\d:.]+([Zz]|[+-]\d{2}:?\d{2})?)?$/.test(zoned)
    ? Date.parse(zoned.replace(' ', 'T'))
    : Number.NaN;
  if (Number.isNaN(ms)) throw invalid(field, 'must be an ISO 8601 date or date-time, e.g. 2024-01-01T00:00:00Z');
  return new Date(ms).toISOString();
}

/**
 * The chat-API dialect's chat API: POST /v1/chat/stream (tokens as `data: <text>` lines, then `data: [DONE]`),
 * switch-model, the paginated history and session deletion. A session is a conversation.
 */
export function registerChatApiRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['chat (the chat-API dialect)'];

  app.post(
    '/v1/chat/stream',
    {
      ...base,
      config: { resumable: true },
      schema: {
        tags,
        security,
        summary: 'Stream a reply, stored in a chat session (an existing one with session_id, else a new one)',
        description:
          'Server-Sent Events, one `data: <token text>` event per token (a token spanning lines gets one data field per line), then `data: [DONE]`; ' +
          'a failure mid-stream is an `event: error` whose data is {"detail","code"}. With "stream": false the reply is JSON. ' +
          'With "web_search": true an `event: sources` ({"sources":[{"index","title","url"}]}) comes first (JSON: a `sources` field). ' +
          "The X-Session-Id header names the session used or created. With session_id, the session's model (see switch-model) is used; " +
          '`model` then only applies to a session that has none; the X-Causerie-Model header names the model that answered.',
        body: ChatStreamBody,
        response: {
          200: {
            description: 'Server-Sent Events, or the JSON reply when stream is false',
            headers: {
              'x-session-id': { description: 'The session the exchange was stored in', schema: { type: 'integer' } },
              'x-causerie-model': {
                description: "The model that answered: the session's, even when the request named another",
                schema: { type: 'string' },
              },
            },
            content: { 'text/event-stream': { schema: Type.String() }, 'application/json': { schema: ChatReply } },
          },
          ...authErrors,
          ...modelErrors,
        },
      },
    },
    async (request, reply) => {
      const signal = clientGone(reply);
      const body = request.body;
      const stream = body.stream ?? true;
      const existing = body.session_id !== undefined;
      if (!existing && !body.model) throw invalid('body.model', 'is required when no session_id is given');
      const actor = principalOf(request);
      let messages = body.messages;
      if (body.prompt_id !== undefined) {
        // The rendered prompt starts the last user message (or is the user message when the last is not one).
        const last = messages.at(-1);
        const text = last?.role === 'user' ? last.content : undefined;
        const content = await services.prompts.composeUserMessage(actor, body.prompt_id, body.variables ?? {}, text);
        messages = [...(text === undefined ? messages : messages.slice(0, -1)), { role: 'user', content }];
      }
      const run = await services.conversationCompletions.complete(
        actor,
        {
          conversation: body.session_id,
          create: existing ? undefined : { model: body.model },
          messages,
          skipStoredPrefix: true,
          ...(existing ? { fallbackModel: body.model } : { model: body.model }),
          temperature: body.temperature,
          ...generationSettings(body),
          stream,
          options: { web_search: body.web_search },
          idempotency: idempotencyOf(request),
        },
        { signal },
      );
      if (body.prompt_id !== undefined) await services.prompts.recordUse(body.prompt_id);
      // The session's model wins over the request's `model` (the document's rule); the header says
      // which one answered, so a caller whose `model` was not used can see it.
      const headers = { 'x-session-id': String(run.conversation.id), 'x-causerie-model': run.model };
      if (!stream) {
        const { message } = await collectReply(run);
        reply.headers({ ...run.headers, ...headers });
        return {
          session_id: run.conversation.id,
          model: run.model,
          title: run.conversation.title,
          message: roleAndContent(message),
          usage: { prompt_tokens: message.prompt_tokens, completion_tokens: message.completion_tokens },
          ...(sourcesOf(message) ? { sources: sourcesOf(message) } : {}),
        };
      }
      await streamReply(request, reply, run, {
        headers,
        start: (sse) => sendSourcesEvent(sse, run.reply),
        delta: (sse, text) => sse.send(text),
        error: (sse, error, requestId) => sse.sendJson(renderError(error, 'native', requestId), 'error'),
      });
      return reply;
    },
  );

  app.post(
    '/v1/chat/switch-model',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: "Switch a session's model; the history is kept and later messages use the new model",
        body: SwitchModelBody,
        response: { 200: SwitchModelReply, ...authErrors },
      },
    },
    async (request) => {
      const actor = principalOf(request);
      const conversation = await services.conversations.switchModel(actor, request.body.session_id, request.body.model);
      const { messages, total } = (
        await services.conversations.newestMessagesOf([conversation], switchModelMessages)
      ).get(conversation.id)!;
      return {
        session_id: conversation.id,
        model: conversation.model!,
        messages: messages.map(roleAndContent),
        messages_total: total,
        title: conversation.title,
      };
    },
  );

  app.get(
    '/v1/chat/history',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Your chat sessions with their messages, most recently updated first, paginated and filtered',
        querystring: HistoryQuery,
        response: { 200: HistoryReply, ...authErrors },
      },
    },
    async (request) => {
      const actor = principalOf(request);
      const { page, page_size: pageSize, model } = request.query;
      const createdFrom = parseDate(request.query.start_date, 'query.start_date');
      const createdTo = parseDate(request.query.end_date, 'query.end_date');
      const result = await services.conversations.list(actor, {
        model,
        createdFrom,
        createdTo,
        limit: pageSize,
        offset: (page - 1) * pageSize,
      });
      const messages = await services.conversations.newestMessagesOf(result.items, request.query.messages_limit);
      return {
        total: result.total,
        page,
        page_size: pageSize,
        sessions: result.items.map((c) => toHistorySession(c, messages.get(c.id)!)),
      };
    },
  );

  app.delete(
    '/v1/chat/sessions/:session_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Delete a chat session and its messages (cannot be undone)',
        params: Type.Object({ session_id: IdOrUuid }),
        response: { 200: DeletedReply, ...authErrors },
      },
    },
    async (request) => {
      await services.conversations.delete(principalOf(request), request.params.session_id);
      return { message: 'Session deleted successfully' };
    },
  );

  app.post(
    '/v1/chat/sessions/:session_id/cancel',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Stop the reply being streamed in a chat session, from any server',
        description:
          'The model stops wherever it runs; the partial reply is kept with status "cancelled" and only what was produced is charged. ' +
          '{"cancelled": false} when no reply was being streamed.',
        params: Type.Object({ session_id: IdOrUuid }),
        response: { 200: CancelResult, ...authErrors },
      },
    },
    async (request) => services.conversationCompletions.cancel(principalOf(request), request.params.session_id),
  );
}
