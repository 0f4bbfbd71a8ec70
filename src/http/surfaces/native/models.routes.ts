import type { Static } from 'typebox';
import { Type } from '../../../lib/type.ts';
import type { AgentPromptInput } from '../../../domain/agents/agent-runs.ts';
import type { CompletionInput } from '../../../domain/completions/completions.types.ts';
import { AppError, invalid } from '../../../domain/errors.ts';
import type { ChatMessage } from '../../../providers/provider.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import type { FastifyRequest } from 'fastify';
import { authenticate, principalOf, requireAdmin, security } from '../../auth.ts';
import { clientGone } from '../../client-gone.ts';
import { authErrors, ErrorBody, generationSettings } from '../../schemas/common.ts';
import {
  ModelBody,
  NativeCompletionRequest,
  NativeCompletionResponse,
  RemovedModelBody,
  RestoredModelBody,
  toModelBody,
} from '../../schemas/models.ts';
import { sendNativeCompletion } from './completion-rendering.ts';

type Body = Static<typeof NativeCompletionRequest>;

/** The exchange a completion body gives: prompt or messages, after the optional system message. */
function promptMessages(body: Body): { messages: ChatMessage[] } {
  if ((body.prompt === undefined) === (body.messages === undefined))
    throw invalid('prompt', 'give either prompt or messages');
  const messages: ChatMessage[] = body.messages ? [...body.messages] : [{ role: 'user', content: body.prompt! }];
  if (body.system !== undefined) messages.unshift({ role: 'system', content: body.system });
  return { messages };
}

/** The sessions dialect's completion body (model_id + prompt, or messages) in the neutral form. */
function toCompletionInput(body: Body): CompletionInput {
  const model = body.model_id ?? body.model;
  if (!model) throw invalid('model_id', 'is required (the id of a model from GET /api/v1/models)');
  if (body.model_id && body.model && body.model_id !== body.model)
    throw invalid('model', 'differs from model_id; give one of them');
  return {
    model,
    ...promptMessages(body),
    temperature: body.temperature,
    ...generationSettings(body),
    stream: body.stream === true,
  };
}

/** The same body addressed to an agent: the model is the agent's unless model_id names another. */
function toAgentPrompt(body: Body): AgentPromptInput {
  if (body.model_id && body.model && body.model_id !== body.model)
    throw invalid('model', 'differs from model_id; give one of them');
  return {
    ...promptMessages(body),
    model: body.model_id ?? body.model,
    temperature: body.temperature,
    ...generationSettings(body),
    stream: body.stream === true,
  };
}

/**
 * The model id a route was given. "agents" and "completions" are the static segments of other
 * routes under /api/v1/models/: a method or path they do not have is an unknown route, not an
 * unknown model.
 */
function modelIdOf(request: FastifyRequest, id: string, rawSlashes = false): string {
  // A model id starting with "agents/" stays reachable with its slash URL-encoded (one segment).
  if (rawSlashes ? /^(agents|completions|removed)(\/|$)/.test(id) : /^(agents|completions|removed)$/.test(id))
    throw new AppError('not_found', `Route ${request.method} ${request.url.split('?')[0]} not found`);
  return id;
}

const completionErrors = {
  ...authErrors,
  403: ErrorBody,
  429: ErrorBody,
  502: ErrorBody,
  503: ErrorBody,
  504: ErrorBody,
};

/** The sessions dialect's models: the registry (list, read, remove) and completions without a session. */
export function registerModelsRoutes(app: App, services: Services) {
  const base = { onRequest: authenticate(services) };
  const tags = ['models'];
  const ModelParams = Type.Object({
    model_id: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Model id; URL-encode its "/" as %2F (a raw "/" works too)',
    }),
  });
  const WildcardParams = Type.Object({ '*': Type.String({ minLength: 1, maxLength: 200 }) });

  app.get(
    '/api/v1/models',
    {
      ...base,
      schema: {
        tags,
        security,
        summary: 'List every model: availability, context window, capabilities, prices',
        response: { 200: Type.Array(ModelBody), ...authErrors },
      },
    },
    async () => (await services.models.list()).map(toModelBody),
  );

  const readSchema = { tags, security, summary: 'Read one model', response: { 200: ModelBody, ...authErrors } };
  app.get('/api/v1/models/:model_id', { ...base, schema: { ...readSchema, params: ModelParams } }, async (request) =>
    toModelBody(await services.models.get(modelIdOf(request, request.params.model_id))),
  );
  // The same with a raw "/" in the id (mistral/mistral-small-latest); hidden, the documented form is above.
  app.get(
    '/api/v1/models/*',
    { ...base, schema: { ...readSchema, params: WildcardParams, hide: true } },
    async (request) => toModelBody(await services.models.get(modelIdOf(request, request.params['*'], true))),
  );

  const removeSchema = {
    tags,
    security,
    summary: 'Remove a model from the registry (admin); it stays removed across restarts and refreshes',
    response: { 200: RemovedModelBody, ...authErrors, 403: ErrorBody },
  };
  app.delete(
    '/api/v1/models/:model_id',
    { ...base, preHandler: requireAdmin, schema: { ...removeSchema, params: ModelParams } },
    async (request) => services.models.remove(principalOf(request), modelIdOf(request, request.params.model_id)),
  );
  app.delete(
    '/api/v1/models/*',
    { ...base, preHandler: requireAdmin, schema: { ...removeSchema, params: WildcardParams, hide: true } },
    async (request) => services.models.remove(principalOf(request), modelIdOf(request, request.params['*'], true)),
  );

  // Removing can be undone: admins list the removed models and restore one by deleting it from
  // that list (its id URL-encoded, or with a raw "/").
  app.get(
    '/api/v1/models/removed',
    {
      ...base,
      preHandler: requireAdmin,
      schema: {
        tags,
        security,
        summary: 'List the removed models (admin)',
        response: { 200: Type.Array(RemovedModelBody), ...authErrors, 403: ErrorBody },
      },
    },
    async (request) => services.models.listRemoved(principalOf(request)),
  );
  const restoreSchema = {
    tags,
    security,
    summary: 'Restore a removed model (admin): it is listed again when its provider or file still offers it',
    response: { 200: RestoredModelBody, ...authErrors, 403: ErrorBody },
  };
  app.delete(
    '/api/v1/models/removed/:model_id',
    { ...base, preHandler: requireAdmin, schema: { ...restoreSchema, params: ModelParams } },
    async (request) => services.models.restore(principalOf(request), request.params.model_id),
  );
  app.delete(
    '/api/v1/models/removed/*',
    { ...base, preHandler: requireAdmin, schema: { ...restoreSchema, params: WildcardParams, hide: true } },
    async (request) => services.models.restore(principalOf(request), request.params['*']),
  );

  app.post(
    '/api/v1/models/completions',
    {
      ...base,
      config: { resumable: true },
      schema: {
        tags,
        security,
        summary: 'Complete a prompt with a model, without a session (nothing is stored but usage)',
        description:
          'Give `model_id` (or `model`) and `prompt` (or `messages`); or `agent_id` to ask an agent (its instructions and settings apply).  With `"stream": true` the answer is Server-Sent Events: ' +
          '{"type":"start","id","model_id"}, then {"type":"delta","content"} per token, then {"type":"end","finish_reason","usage"}, ' +
          'or {"type":"error","detail","code"} if the model fails mid-answer, and `data: [DONE]` last. See docs/models.md.',
        body: NativeCompletionRequest,
        response: { 200: NativeCompletionResponse, ...completionErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.agent_id !== undefined) {
        // The sessions dialect also sends a prompt to an agent here, by its agent_id, nothing stored.
        const { run } = await services.agentRuns.complete(principalOf(request), body.agent_id, toAgentPrompt(body), {
          signal: clientGone(reply),
        });
        return sendNativeCompletion(request, reply, run, { stream: body.stream === true, clock: services.clock });
      }
      const input = toCompletionInput(body);
      const run = await services.completions.start(principalOf(request), input, { signal: clientGone(reply) });
      await sendNativeCompletion(request, reply, run, { stream: input.stream, clock: services.clock });
    },
  );
}
