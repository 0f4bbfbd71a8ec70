import { Type } from '../../../lib/type.ts';
import { invalid } from '../../../domain/errors.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { idempotencyOf } from '../../idempotency.ts';
import { clientGone } from '../../client-gone.ts';
import { authErrors, ErrorBody, generationSettings, IdOrUuid } from '../../schemas/common.ts';
import {
  CancelResult,
  CreateSessionBody,
  HistoryQuery,
  MessageBody,
  PageQuery,
  SessionBody,
  SessionCompletionBody,
  SessionCompletionResult,
  toMessageBody,
  toSessionBody,
  UpdateSessionBody,
} from '../../schemas/conversations.ts';
import { sendSessionRun } from './completion-rendering.ts';

const SessionParams = Type.Object({ session_id: IdOrUuid });
const conflict = { 409: ErrorBody };
const modelErrors = { 409: ErrorBody, 429: ErrorBody, 502: ErrorBody, 503: ErrorBody, 504: ErrorBody };

/**
 * The sessions dialect's sessions under /api/v1: a session is a conversation; its history is its messages.
 * Lists carry X-Total-Count and take limit/offset.
 */
export function registerSessionsRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['sessions'];

  app.get(
    '/api/v1/sessions',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'List your sessions, most recently active first',
        querystring: Type.Intersect([
          PageQuery,
          Type.Object({
            model: Type.Optional(Type.String({ maxLength: 200, description: 'Only sessions using this model' })),
          }),
        ]),
        response: { 200: Type.Array(SessionBody), ...authErrors },
      },
    },
    async (request, reply) => {
      const { limit, offset, model } = request.query;
      const page = await services.conversations.list(principalOf(request), { limit, offset, model });
      reply.header('x-total-count', String(page.total));
      return page.items.map(toSessionBody);
    },
  );

  app.post(
    '/api/v1/sessions',
    {
      ...base,
      // No body at all (the sessions dialect shows none) is an empty one.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags,
        security,
        summary:
          'Create a session (every field optional; no body is fine); with agent_id, a session that belongs to that agent',
        body: CreateSessionBody,
        response: { 201: SessionBody, ...authErrors },
      },
    },
    async (request, reply) => {
      // The sessions dialect names a model model_id everywhere; model stays an alias.
      const { model_id, model, agent_id, ...fields } = request.body;
      if (model_id !== undefined && model !== undefined && model_id !== model)
        throw invalid('model_id', 'differs from model; give one of them');
      const input = { ...fields, model: model_id ?? model };
      const actor = principalOf(request);
      const session = await services.idempotency.once(actor.userId, idempotencyOf(request), {
        run: async () => {
          const made =
            agent_id === undefined
              ? await services.conversations.create(actor, input)
              : await services.agentRuns.createSession(actor, agent_id, input);
          return { value: made, conversationId: made.id };
        },
        replay: ({ conversationId }) => services.conversations.get(actor, conversationId),
      });
      return reply.code(201).send(toSessionBody(session));
    },
  );

  app.get(
    '/api/v1/sessions/:session_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Read a session by id or UUID',
        params: SessionParams,
        response: { 200: SessionBody, ...authErrors },
      },
    },
    async (request) => toSessionBody(await services.conversations.get(principalOf(request), request.params.session_id)),
  );

  app.patch(
    '/api/v1/sessions/:session_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Rename a session, change its system prompt or metadata, or switch its model (the history is kept)',
        params: SessionParams,
        body: UpdateSessionBody,
        response: { 200: SessionBody, ...authErrors },
      },
    },
    async (request) => {
      const actor = principalOf(request);
      const { model, ...changes } = request.body;
      if (model !== undefined) await services.conversations.switchModel(actor, request.params.session_id, model);
      return toSessionBody(await services.conversations.update(actor, request.params.session_id, changes));
    },
  );

  app.delete(
    '/api/v1/sessions/:session_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Delete a session and its history',
        params: SessionParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...authErrors },
      },
    },
    async (request, reply) => {
      await services.conversations.delete(principalOf(request), request.params.session_id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/sessions/:session_id/history',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: "A session's messages, oldest first (every message has its own id)",
        params: SessionParams,
        querystring: HistoryQuery,
        response: { 200: Type.Array(MessageBody), ...authErrors },
      },
    },
    async (request, reply) => {
      const page = await services.conversations.listMessages(
        principalOf(request),
        request.params.session_id,
        request.query,
      );
      reply.header('x-total-count', String(page.total));
      return page.items.map(toMessageBody);
    },
  );

  app.post(
    '/api/v1/sessions/:session_id/models/completions',
    {
      ...base,
      config: { resumable: true },
      schema: {
        tags,
        security,
        summary: 'Send a prompt to a model within a session; the prompt and the reply are stored in its history',
        description:
          'With "stream": true the answer is Server-Sent Events: {"type":"start",\u2026}, then {"type":"delta","content":\u2026} per token, ' +
          '{"type":"end","message":\u2026} (or {"type":"error","detail","code"}), then [DONE]. With "web_search": true, {"type":"sources","sources":[{"index","title","url"}]} ' +
          'follows the start event, and the stored reply carries the same `sources`.',
        params: SessionParams,
        body: SessionCompletionBody,
        response: {
          200: {
            description: 'The stored reply (JSON), or Server-Sent Events when stream is true',
            content: {
              'application/json': { schema: SessionCompletionResult },
              'text/event-stream': { schema: Type.String() },
            },
          },
          ...authErrors,
          ...conflict,
          ...modelErrors,
        },
      },
    },
    async (request, reply) => {
      const signal = clientGone(reply);
      const body = request.body;
      const actor = principalOf(request);
      let content = body.prompt;
      if (body.prompt_id !== undefined)
        content = await services.prompts.composeUserMessage(actor, body.prompt_id, body.variables ?? {}, body.prompt);
      if (content === undefined) throw invalid('body.prompt', 'is required (or give prompt_id)');
      const run = await services.conversationCompletions.complete(
        actor,
        {
          conversation: request.params.session_id,
          messages: [{ role: 'user', content }],
          model: body.model_id,
          temperature: body.temperature,
          ...generationSettings(body),
          stream: body.stream ?? false,
          options: { web_search: body.web_search },
          idempotency: idempotencyOf(request),
        },
        { signal },
      );
      if (body.prompt_id !== undefined) await services.prompts.recordUse(body.prompt_id);
      await sendSessionRun(request, reply, run, { stream: body.stream === true });
      return reply;
    },
  );

  app.post(
    '/api/v1/sessions/:session_id/cancel',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Stop the answer being generated in a session, from any server',
        description:
          'The model stops on whichever server generates the answer; the text produced so far is kept with status "cancelled" ' +
          'and only it is charged. Streams of that answer end as a cancelled answer does. {"cancelled": false} when no answer was running.',
        params: SessionParams,
        response: { 200: CancelResult, ...authErrors },
      },
    },
    async (request) => services.conversationCompletions.cancel(principalOf(request), request.params.session_id),
  );
}
