import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { streamReply } from '../../conversation-runs.ts';
import { idempotencyOf } from '../../idempotency.ts';
import { clientGone } from '../../client-gone.ts';
import { authErrors, ErrorBody, IdOrUuid } from '../../schemas/common.ts';
import { sendSourcesEvent } from '../../web-sources.ts';
import {
  ChatConversationBody,
  CreateChatConversationBody,
  fromRole,
  toChatConversationBody,
} from '../../schemas/conversations-chats.ts';

/**
 * The chats dialect's "conversations", which are the messages of a chat (roles Human and Assistant), and
 * the inference stream that answers a chat's latest Human message and stores the answer.
 */
export function registerChatsConversationsRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['chats (the chats dialect)'];

  app.post(
    '/conversations/create',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Add a message ("conversation") to a chat; role Human or Assistant',
        body: CreateChatConversationBody,
        response: { 201: ChatConversationBody, ...authErrors },
      },
    },
    async (request, reply) => {
      const actor = principalOf(request);
      const chat = await services.conversations.get(actor, request.body.chat_id);
      const message = await services.idempotency.once(actor.userId, idempotencyOf(request), {
        run: async () => {
          const added = await services.conversations.addMessage(actor, chat.id, {
            role: fromRole[request.body.role],
            content: request.body.message,
          });
          return { value: added, conversationId: chat.id, messageIds: [added.id] };
        },
        replay: ({ messageIds }) => services.conversations.getMessage(actor, String(messageIds[0])),
      });
      return reply.code(201).send(toChatConversationBody(message, chat.uuid));
    },
  );

  const inference = (path: string, summary: string, description: string, webSearch: boolean) =>
    app.get(
      path,
      {
        ...base,
        config: { resumable: true },
        schema: {
          tags,
          security,
          summary,
          description,
          params: Type.Object({ id: IdOrUuid }),
          response: {
            200: { description: 'Server-Sent Events', content: { 'text/event-stream': { schema: Type.String() } } },
            ...authErrors,
            409: ErrorBody,
            429: ErrorBody,
            502: ErrorBody,
            503: ErrorBody,
            504: ErrorBody,
          },
        },
      },
      async (request, reply) => {
        const signal = clientGone(reply);
        // Plain inference leaves web search to the chat's agent, if it has one that always searches.
        const input = {
          conversation: request.params.id,
          messages: [],
          stream: true,
          options: webSearch ? { web_search: true } : {},
        };
        const run = await services.conversationCompletions.complete(principalOf(request), input, { signal });
        await streamReply(request, reply, run, {
          start: (sse) => sendSourcesEvent(sse, run.reply),
          delta: (sse, text) => sse.send(text),
          end: (sse, message) => sse.sendJson(toChatConversationBody(message, run.conversation.uuid), 'conversation'),
        });
        return reply;
      },
    );

  inference(
    '/conversations/inference/:id',
    "Stream the Assistant's answer to the chat's latest Human message, and store it",
    'Server-Sent Events: one `data: <token text>` event per token, then an `event: conversation` whose data is the stored Assistant ' +
      'conversation, then `data: [DONE]`. `:id` is the chat id. A failure mid-stream is an `event: error` with {"detail","code"}.',
    false,
  );
  inference(
    '/conversations/inference_internet/:id',
    "Stream the Assistant's answer to the chat's latest Human message using a web search, and store it with its sources",
    'Like /conversations/inference/:id, after a web search on the latest Human message whose top pages are read and given to the ' +
      'model as numbered sources it cites as [1], [2]. First an `event: sources` whose data is {"sources":[{"index","title","url"}]}, ' +
      'then one `data: <token text>` event per token, then an `event: conversation` whose data is the stored Assistant ' +
      'conversation (with its `sources`), then `data: [DONE]`. `:id` is the chat id. A failure mid-stream is an `event: error` with {"detail","code"}.',
    true,
  );
}
