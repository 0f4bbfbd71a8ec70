import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { authErrors, ErrorBody, IdOrUuid } from '../../schemas/common.ts';
import { MessageBody, toMessageBody } from '../../schemas/conversations.ts';

/**
 * The sessions dialect's note, "créer un id pour chaque message; pouvoir supprimer un message par son id":
 * every message is read and deleted by its id or UUID, inside its session or on its own.
 */
export function registerMessagesRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['sessions'];
  const InSession = Type.Object({ session_id: IdOrUuid, message_id: IdOrUuid });
  const Alone = Type.Object({ message_id: IdOrUuid });
  const deleted = { 204: Type.Null({ description: 'Deleted' }), ...authErrors, 409: ErrorBody };

  app.get(
    '/api/v1/sessions/:session_id/messages/:message_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Read one message of a session',
        params: InSession,
        response: { 200: MessageBody, ...authErrors },
      },
    },
    async (request) =>
      toMessageBody(
        await services.conversations.getMessage(
          principalOf(request),
          request.params.message_id,
          request.params.session_id,
        ),
      ),
  );

  app.delete(
    '/api/v1/sessions/:session_id/messages/:message_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Delete one message of a session (not while it is being generated)',
        params: InSession,
        response: deleted,
      },
    },
    async (request, reply) => {
      await services.conversations.deleteMessage(
        principalOf(request),
        request.params.message_id,
        request.params.session_id,
      );
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/messages/:message_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Read one message by its id or UUID',
        params: Alone,
        response: { 200: MessageBody, ...authErrors },
      },
    },
    async (request) =>
      toMessageBody(await services.conversations.getMessage(principalOf(request), request.params.message_id)),
  );

  app.delete(
    '/api/v1/messages/:message_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Delete one message by its id or UUID (not while it is being generated)',
        params: Alone,
        response: deleted,
      },
    },
    async (request, reply) => {
      await services.conversations.deleteMessage(principalOf(request), request.params.message_id);
      return reply.code(204).send(null);
    },
  );
}
