import { Type } from '../../../lib/type.ts';
import { sendSourcesEvent, sourcesOf } from '../../web-sources.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { collectReply, streamReply } from '../../conversation-runs.ts';
import { idempotencyOf } from '../../idempotency.ts';
import { clientGone } from '../../client-gone.ts';
import { authErrors, ErrorBody, generationSettings, IdOrUuid } from '../../schemas/common.ts';
import {
  AddMessageBody,
  ChatMessage,
  CompleteBody,
  CompletionChoices,
  ConversationCreated,
  ConversationListItem,
  CreateConversationBody,
  toChatMessage,
  toCreated,
  toListItem,
} from '../../schemas/conversations-chat-service.ts';
import { HistoryQuery, PageQuery } from '../../schemas/conversations.ts';

const ConversationParams = Type.Object({ conversationId: IdOrUuid });
const modelErrors = { 409: ErrorBody, 429: ErrorBody, 502: ErrorBody, 503: ErrorBody, 504: ErrorBody };

/**
 * The chat-service dialect's conversations ("Chat Service"): resources (conversations, messages) and the action
 * POST /conversations/:id/messages:complete, which answers the conversation's last user message
 * and stores the reply. The document has no authentication; Causerie requires it (docs/compatibility.md).
 */
export function registerChatServiceConversationsRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['chat service (the chat-service dialect)'];

  app.get(
    // The chat-service dialect writes :userId; the parameter shares GET /users/:username's name (one router node), and takes an id, UUID or username.
    '/users/:username/conversations',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: "A user's conversations (yourself, or anyone for admins), most recently active first",
        params: Type.Object({
          username: Type.String({
            minLength: 1,
            maxLength: 64,
            description: 'The user id (the chat-service dialect), UUID or username',
          }),
        }),
        querystring: PageQuery,
        response: { 200: Type.Array(ConversationListItem), ...authErrors },
      },
    },
    async (request, reply) => {
      const page = await services.conversations.list(principalOf(request), {
        owner: request.params.username,
        ...request.query,
      });
      reply.header('x-total-count', String(page.total));
      return page.items.map(toListItem);
    },
  );

  app.post(
    '/conversations',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Create a conversation',
        body: CreateConversationBody,
        response: { 201: ConversationCreated, ...authErrors, 403: ErrorBody },
      },
    },
    async (request, reply) => {
      const { title, user_id, model } = request.body;
      const actor = principalOf(request);
      const conversation = await services.idempotency.once(actor.userId, idempotencyOf(request), {
        run: async () => {
          const made = await services.conversations.create(actor, { title, model, owner: user_id });
          return { value: made, conversationId: made.id };
        },
        replay: ({ conversationId }) => services.conversations.get(actor, conversationId),
      });
      return reply.code(201).send(toCreated(conversation));
    },
  );

  app.get(
    '/conversations/:conversationId/messages',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: "A conversation's messages, oldest first",
        params: ConversationParams,
        querystring: HistoryQuery,
        response: { 200: Type.Array(ChatMessage), ...authErrors },
      },
    },
    async (request, reply) => {
      const page = await services.conversations.listMessages(
        principalOf(request),
        request.params.conversationId,
        request.query,
      );
      reply.header('x-total-count', String(page.total));
      return page.items.map(toChatMessage);
    },
  );

  app.post(
    '/conversations/:conversationId/messages',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Add a message (a user message by default) without asking the model',
        params: ConversationParams,
        body: AddMessageBody,
        response: { 201: ChatMessage, ...authErrors },
      },
    },
    async (request, reply) => {
      const actor = principalOf(request);
      const message = await services.idempotency.once(actor.userId, idempotencyOf(request), {
        run: async () => {
          const added = await services.conversations.addMessage(actor, request.params.conversationId, {
            role: request.body.role ?? 'user',
            content: request.body.content,
          });
          return { value: added, conversationId: added.conversation_id, messageIds: [added.id] };
        },
        replay: ({ messageIds }) => services.conversations.getMessage(actor, String(messageIds[0])),
      });
      return reply.code(201).send(toChatMessage(message));
    },
  );

  // '::' is Fastify's escape for a literal ':' in a path: this is ".../messages:complete".
  app.post(
    '/conversations/:conversationId/messages::complete',
    {
      ...base,
      config: { resumable: true },
      schema: {
        tags,
        security,
        summary: "Answer the conversation's last user message; the reply is stored in the conversation",
        description:
          'With "stream": true, Server-Sent Events whose data is {"choices":[{"index","delta":{"role","content"},"finish_reason"}]}, ending with [DONE]. ' +
          'With "web_search": true an `event: sources` ({"sources":[{"index","title","url"}]}) comes first (JSON: a `sources` field).',
        params: ConversationParams,
        body: CompleteBody,
        response: {
          200: {
            description: 'The reply (JSON), or Server-Sent Events when stream is true',
            content: {
              'application/json': { schema: CompletionChoices },
              'text/event-stream': { schema: Type.String() },
            },
          },
          ...authErrors,
          ...modelErrors,
        },
      },
    },
    async (request, reply) => {
      const signal = clientGone(reply);
      const { stream = false, model, temperature, web_search } = request.body;
      const run = await services.conversationCompletions.complete(
        principalOf(request),
        {
          conversation: request.params.conversationId,
          messages: [],
          model,
          temperature,
          ...generationSettings(request.body),
          stream,
          options: { web_search },
          idempotency: idempotencyOf(request),
        },
        { signal },
      );
      if (!stream) {
        const { message, finishReason } = await collectReply(run);
        reply.headers(run.headers);
        const sources = sourcesOf(message);
        return {
          choices: [
            {
              finish_reason: finishReason,
              index: 0,
              message: { role: 'assistant' as const, content: message.content },
            },
          ],
          ...(sources ? { sources } : {}),
        };
      }
      const chunk = (content: string, finishReason: string | null) => ({
        choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: finishReason }],
      });
      await streamReply(request, reply, run, {
        start: (sse) => sendSourcesEvent(sse, run.reply),
        delta: (sse, text) => sse.sendJson(chunk(text, null)),
        end: (sse, _message, finishReason) => sse.sendJson(chunk('', finishReason)),
      });
      return reply;
    },
  );
}
