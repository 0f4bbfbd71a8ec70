import { idempotencyOf } from '../../idempotency.ts';
import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { authErrors, IdOrUuid } from '../../schemas/common.ts';
import { PageQuery } from '../../schemas/conversations.ts';
import { ChatBody, CreateChatBody, toChatBody, UpdateChatBody } from '../../schemas/conversations-chats.ts';

const ChatParams = Type.Object({ id: IdOrUuid });

/**
 * The chats dialect's chats (llama_internet_chatbot): a chat is a conversation, named by its title and shown
 * with its UUID. The document has no authentication; Causerie requires it (docs/compatibility.md).
 */
export function registerChatsRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['chats (the chats dialect)'];

  // The list also answers without the trailing slash, which many clients drop.
  for (const path of ['/chats/', '/chats']) {
    app.get(
      path,
      {
        ...base,
        schema: {
          tags,
          security,
          summary: 'List your chats, most recently updated first (X-Total-Count has the total)',
          querystring: PageQuery,
          response: { 200: Type.Array(ChatBody), ...authErrors },
        },
      },
      async (request, reply) => {
        const page = await services.conversations.list(principalOf(request), request.query);
        reply.header('x-total-count', String(page.total));
        return page.items.map(toChatBody);
      },
    );
  }

  app.get(
    '/chats/:id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Read a chat by UUID (or integer id)',
        params: ChatParams,
        response: { 200: ChatBody, ...authErrors },
      },
    },
    async (request) => toChatBody(await services.conversations.get(principalOf(request), request.params.id)),
  );

  app.post(
    '/chats/create',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Create a chat with a name',
        body: CreateChatBody,
        response: { 201: ChatBody, ...authErrors },
      },
    },
    async (request, reply) => {
      const actor = principalOf(request);
      const chat = await services.idempotency.once(actor.userId, idempotencyOf(request), {
        run: async () => {
          const made = await services.conversations.create(actor, { title: request.body.name });
          return { value: made, conversationId: made.id };
        },
        replay: ({ conversationId }) => services.conversations.get(actor, conversationId),
      });
      return reply.code(201).send(toChatBody(chat));
    },
  );

  app.delete(
    '/chats/delete/:id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Delete a chat and its conversations; answers the deleted chat',
        params: ChatParams,
        response: { 200: ChatBody, ...authErrors },
      },
    },
    async (request) => toChatBody(await services.conversations.delete(principalOf(request), request.params.id)),
  );

  app.put(
    '/chats/update/:id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Rename a chat (updated_at is set by the server)',
        params: ChatParams,
        body: UpdateChatBody,
        response: { 200: ChatBody, ...authErrors },
      },
    },
    async (request) =>
      toChatBody(
        await services.conversations.update(principalOf(request), request.params.id, { title: request.body.name }),
      ),
  );
}
