import type { FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import { Type } from '../../../lib/type.ts';
import type { AgentInput } from '../../../domain/agents/agents.service.ts';
import { invalid } from '../../../domain/errors.ts';
import type { ChatMessage } from '../../../providers/provider.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { idempotencyOf } from '../../idempotency.ts';
import { clientGone } from '../../client-gone.ts';
import {
  AgentBody,
  AgentPromptBody,
  AgentSessionPromptBody,
  CreateAgentBody,
  CreateAgentQuery,
  toAgentBody,
  UpdateAgentBody,
} from '../../schemas/agents.ts';
import { authErrors, ErrorBody, IdOrUuid } from '../../schemas/common.ts';
import { PageQuery, SessionCompletionResult } from '../../schemas/conversations.ts';
import { NativeCompletionResponse } from '../../schemas/models.ts';
import { sendNativeCompletion, sendSessionRun } from './completion-rendering.ts';

const AgentParams = Type.Object({ agent_id: IdOrUuid });
const SessionAgentParams = Type.Object({ session_id: IdOrUuid, agent_id: IdOrUuid });
const modelErrors = { 403: ErrorBody, 409: ErrorBody, 429: ErrorBody, 502: ErrorBody, 503: ErrorBody, 504: ErrorBody };
const sseDescription =
  'With "stream": true the answer is Server-Sent Events, in the same frames as the matching completion route ' +
  '(start, delta per token, end or error, then [DONE]); see docs/agents.md.';

type AgentFields = Static<typeof UpdateAgentBody>;

/** The body's fields as the agents service takes them: each one left out stays unset (create) or unchanged (update). */
function toAgentInput(body: AgentFields): Partial<AgentInput> {
  if (body.model_id !== undefined && body.model !== undefined && body.model_id !== body.model)
    throw invalid('model_id', 'differs from model; give one of them');
  const model = body.model_id !== undefined ? body.model_id : body.model;
  const settings = {
    temperature: body.temperature,
    topP: body.top_p,
    maxTokens: body.max_tokens,
    webSearch: body.web_search,
  };
  const settingsGiven = Object.values(settings).some((value) => value !== undefined);
  return {
    ...(body.name !== undefined && { name: body.name }),
    ...(model !== undefined && { model }),
    ...(body.instructions !== undefined && { instructions: body.instructions }),
    ...(body.description !== undefined && { description: body.description }),
    ...(body.tools !== undefined && { tools: body.tools }),
    ...(body.metadata !== undefined && { metadata: body.metadata }),
    ...(settingsGiven && { settings }),
  };
}

/** `curl -X POST -H 'Content-Type: application/json' ...` with no data is a request without a body, not malformed JSON. */
async function emptyBodyIsNoBody(request: FastifyRequest) {
  if (request.headers['content-length'] === '0') delete request.headers['content-type'];
}

/**
 * The sessions dialect's agents, under /api/v1/models/agents: created with `?name=`, listed, read, prompted
 * without a session (nothing stored but usage) or inside one, updated and deleted. Owned like
 * sessions: another user's agent answers 404, admins see all. Registered before the models'
 * `/api/v1/models/{model_id}`; the static "agents" segment wins over the parameter, so
 * GET /api/v1/models/agents always lists agents.
 */
export function registerAgentsRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['agents'];

  app.get(
    '/api/v1/models/agents',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'List your agents, oldest first (admins: everyone\u2019s); X-Total-Count says how many',
        querystring: PageQuery,
        response: { 200: Type.Array(AgentBody), ...authErrors },
      },
    },
    async (request, reply) => {
      const page = await services.agents.list(principalOf(request), request.query);
      reply.header('x-total-count', String(page.total));
      return page.items.map(toAgentBody);
    },
  );

  app.post(
    '/api/v1/models/agents',
    {
      ...base,
      preParsing: async (request, _reply, payload) => {
        await emptyBodyIsNoBody(request);
        return payload;
      },
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags,
        security,
        summary: 'Create an agent named by ?name= (the other fields in an optional JSON body)',
        description:
          'The body may give model_id (or model), instructions, description, temperature, top_p, max_tokens, tools and metadata; no body is fine.',
        querystring: CreateAgentQuery,
        body: CreateAgentBody,
        response: { 201: AgentBody, ...authErrors },
      },
    },
    async (request, reply) => {
      const { name: bodyName, ...fields } = request.body;
      const queryName = request.query.name;
      if (queryName !== undefined && bodyName !== undefined && queryName !== bodyName)
        throw invalid('name', 'the query string and the body give different names; give one');
      const name = queryName ?? bodyName;
      if (name === undefined) throw invalid('name', 'is required: POST /api/v1/models/agents?name={name}');
      const agent = await services.agents.create(principalOf(request), { ...toAgentInput(fields), name });
      return reply.code(201).send(toAgentBody(agent));
    },
  );

  app.get(
    '/api/v1/models/agents/:agent_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Read an agent and its settings, by id or UUID',
        params: AgentParams,
        response: { 200: AgentBody, ...authErrors },
      },
    },
    async (request) => toAgentBody(await services.agents.get(principalOf(request), request.params.agent_id)),
  );

  const updateSchema = {
    tags,
    security,
    params: AgentParams,
    body: UpdateAgentBody,
    response: { 200: AgentBody, ...authErrors },
  };
  const update = async (request: FastifyRequest<{ Params: Static<typeof AgentParams>; Body: AgentFields }>) =>
    toAgentBody(
      await services.agents.update(principalOf(request), request.params.agent_id, toAgentInput(request.body)),
    );
  app.patch(
    '/api/v1/models/agents/:agent_id',
    {
      ...base,
      schema: { ...updateSchema, summary: 'Change an agent: each field given is set, null clears it, the others stay' },
    },
    update,
  );
  app.put(
    '/api/v1/models/agents/:agent_id',
    { ...base, schema: { ...updateSchema, summary: 'Change an agent (the same as PATCH: fields left out stay)' } },
    update,
  );

  app.delete(
    '/api/v1/models/agents/:agent_id',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'Delete an agent (its sessions stay, as ordinary sessions)',
        params: AgentParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...authErrors },
      },
    },
    async (request, reply) => {
      await services.agents.delete(principalOf(request), request.params.agent_id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/models/agents/:agent_id',
    {
      ...base,
      config: { resumable: true },
      schema: {
        tags,
        security,
        summary: 'Send a prompt to an agent without a session (nothing is stored but usage)',
        description: `Give prompt and/or messages (the exchange so far; prompt comes after them). ${sseDescription}`,
        params: AgentParams,
        body: AgentPromptBody,
        response: {
          200: {
            description: 'The answer (JSON), or Server-Sent Events when stream is true',
            content: {
              'application/json': { schema: NativeCompletionResponse },
              'text/event-stream': { schema: Type.String() },
            },
          },
          ...authErrors,
          ...modelErrors,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.prompt === undefined && body.messages === undefined)
        throw invalid('prompt', 'give prompt, messages, or both');
      const messages: ChatMessage[] = [
        ...(body.messages ?? []),
        ...(body.prompt !== undefined ? [{ role: 'user' as const, content: body.prompt }] : []),
      ];
      const stream = body.stream === true;
      const { run } = await services.agentRuns.complete(
        principalOf(request),
        request.params.agent_id,
        {
          messages,
          model: body.model_id,
          temperature: body.temperature,
          top_p: body.top_p,
          max_tokens: body.max_tokens,
          stop: body.stop,
          seed: body.seed,
          stream,
        },
        { signal: clientGone(reply) },
      );
      await sendNativeCompletion(request, reply, run, { stream, clock: services.clock });
      return reply;
    },
  );

  app.post(
    '/api/v1/sessions/:session_id/models/agents/:agent_id',
    {
      ...base,
      config: { resumable: true },
      schema: {
        tags,
        security,
        summary:
          "Send a prompt to an agent within a session; stored in its history, and the session becomes the agent's",
        description: `The session's later completions get the agent's instructions too; a session another agent had is handed to this one. ${sseDescription}`,
        params: SessionAgentParams,
        body: AgentSessionPromptBody,
        response: {
          200: {
            description: 'The stored reply (JSON), or Server-Sent Events when stream is true',
            content: {
              'application/json': { schema: SessionCompletionResult },
              'text/event-stream': { schema: Type.String() },
            },
          },
          ...authErrors,
          ...modelErrors,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const stream = body.stream === true;
      const { run } = await services.agentRuns.completeInSession(
        principalOf(request),
        request.params.session_id,
        request.params.agent_id,
        {
          prompt: body.prompt,
          model: body.model_id,
          temperature: body.temperature,
          top_p: body.top_p,
          max_tokens: body.max_tokens,
          stream,
          idempotency: idempotencyOf(request),
        },
        { signal: clientGone(reply) },
      );
      await sendSessionRun(request, reply, run, { stream });
      return reply;
    },
  );
}
