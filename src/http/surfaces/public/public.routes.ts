import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { PublicClient } from '../../../domain/public-agents/public-agents.types.ts';
import type { App } from '../../app.ts';
import { collectReply, streamReply } from '../../conversation-runs.ts';
import { clientGone } from '../../client-gone.ts';
import { ErrorBody } from '../../schemas/common.ts';
import { ClientTokenBody, PublicMessageBody, SendPublicMessageBody } from '../../schemas/public-agents.ts';

const tokenPath = '/v1/chat/conversation/public/message/token/:modelId';
const messagesPath = '/v1/chat/conversation/public/messages/:token';
const messagePath = '/v1/chat/conversation/public/message';

const clientOf = (request: FastifyRequest): PublicClient => ({
  origin: typeof request.headers.origin === 'string' ? request.headers.origin : undefined,
  address: request.ip,
  userAgent: request.headers['user-agent'],
});

/**
 * The public-agents dialect's public API: called by browsers on other sites, so these routes (and only these)
 * answer CORS, and only for origins some live public key allows; which origin a token may be used
 * from is then checked against the token itself.
 */
export function registerPublicRoutes(app: App, services: Services) {
  const tags = ['public agents (the public-agents dialect)'];

  const cors = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('vary', 'Origin');
    const { origin } = clientOf(request);
    if (origin && (await services.publicConversations.originAllowed(origin))) {
      reply.header('access-control-allow-origin', origin);
      reply.header(
        'access-control-expose-headers',
        'Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset',
      );
    }
  };

  for (const [path, methods] of [
    [tokenPath, 'GET'],
    [messagesPath, 'GET'],
    [messagePath, 'POST'],
  ] as const) {
    app.options(
      path,
      {
        onRequest: cors,
        schema: {
          tags,
          summary: `CORS preflight for ${methods} ${path}: allowed only from origins a live public key lists`,
          response: {
            204: { description: 'Preflight answer (Access-Control-Allow-* only for an allowed origin)', type: 'null' },
          },
        },
      },
      async (_request, reply) => {
        if (reply.hasHeader('access-control-allow-origin')) {
          reply.header('access-control-allow-methods', `${methods}, OPTIONS`);
          reply.header('access-control-allow-headers', 'Authorization, Content-Type, Last-Event-ID');
          reply.header('access-control-max-age', '600');
        }
        return reply.code(204).send(null);
      },
    );
  }

  app.get(
    tokenPath,
    {
      onRequest: cors,
      schema: {
        tags,
        summary: "Start a public conversation with the public key's agent and get its client token",
        security: [{ publicKeyAuth: [] }],
        description:
          "Authorization: Bearer <public key> (PUB_\u2026), from a page whose Origin the key allows. :modelId is the agent's id or UUID, or the model it answers with.",
        params: Type.Object({ modelId: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: ClientTokenBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 429: ErrorBody },
      },
    },
    async (request) =>
      services.publicConversations.mintToken(request.headers.authorization, request.params.modelId, clientOf(request)),
  );

  app.get(
    messagesPath,
    {
      onRequest: cors,
      schema: {
        tags,
        summary: 'The messages of a public conversation, oldest first',
        params: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: Type.Array(PublicMessageBody), 403: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => services.publicConversations.messages(request.params.token, clientOf(request)),
  );

  app.post(
    messagePath,
    {
      onRequest: cors,
      config: { resumable: true },
      schema: {
        tags,
        summary: "Send the visitor's message to a public conversation and get the agent's answer",
        description:
          'With "stream": true, Server-Sent Events: {"type":"delta","content"} per piece of text, then {"type":"done","role","content","created_at"}, then [DONE]; a failure mid-stream is an "error" event.',
        body: SendPublicMessageBody,
        response: {
          200: {
            description: 'The answer (JSON), or Server-Sent Events when stream is true',
            content: {
              'application/json': { schema: PublicMessageBody },
              'text/event-stream': { schema: Type.String() },
            },
          },
          400: ErrorBody,
          403: ErrorBody,
          429: ErrorBody,
          502: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const signal = clientGone(reply);
      const stream = request.body.stream ?? false;
      const run = await services.publicConversations.send({ ...request.body, stream }, clientOf(request), signal);
      if (!stream) {
        const { message } = await collectReply(run);
        reply.headers(run.headers);
        return { role: 'assistant' as const, content: message.content, created_at: message.created_at };
      }
      await streamReply(request, reply, run, {
        delta: (sse, text) => sse.sendJson({ type: 'delta', content: text }),
        end: (sse, message) =>
          sse.sendJson({ type: 'done', role: 'assistant', content: message.content, created_at: message.created_at }),
      });
      return reply;
    },
  );
}
