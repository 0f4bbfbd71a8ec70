import { randomUUID } from 'node:crypto';
import type { Static } from 'typebox';
import { collectCompletion } from '../../../domain/completions/collect.ts';
import type { CompletionInput } from '../../../domain/completions/completions.types.ts';
import { invalid } from '../../../domain/errors.ts';
import type { ChatMessage } from '../../../providers/provider.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { authenticate, principalOf, security } from '../../auth.ts';
import { openAiFinishReason, streamRun, usageBody } from '../../completion-responses.ts';
import { clientGone } from '../../client-gone.ts';
import { urlCitations, type SourceBody } from '../../web-sources.ts';
import { ChatCompletionRequest, ChatCompletionResponse, openAiErrors } from '../../schemas/openai.ts';

type Body = Static<typeof ChatCompletionRequest>;

/** A message's content as text: a string, null, or OpenAI's array of text parts. */
function contentText(content: unknown, index: number): string | null {
  if (content === undefined || content === null || typeof content === 'string') return content ?? null;
  if (Array.isArray(content)) {
    let text = '';
    for (const part of content) {
      if (
        !part ||
        typeof part !== 'object' ||
        (part as { type?: unknown }).type !== 'text' ||
        typeof (part as { text?: unknown }).text !== 'string'
      ) {
        throw invalid(`messages.${index}.content`, 'only text parts ({"type": "text", "text": \u2026}) are supported');
      }
      text += (part as { text: string }).text;
    }
    return text;
  }
  throw invalid(`messages.${index}.content`, 'must be a string, null or an array of text parts');
}

function stopList(stop: unknown): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.length <= 4 && stop.every((s) => typeof s === 'string')) return stop;
  throw invalid('stop', 'must be a string or an array of up to 4 strings');
}

/** OpenAI's request, in the neutral form every surface gives the completions service. */
export function toCompletionInput(body: Body): CompletionInput {
  if (body.n != null && body.n !== 1) throw invalid('n', 'only 1 is supported');
  const messages = body.messages.map((message, index): ChatMessage => {
    const out: ChatMessage = {
      role: message.role === 'developer' ? 'system' : message.role,
      content: contentText(message.content, index),
    };
    if (message.name !== undefined) out.name = message.name;
    if (message.tool_call_id !== undefined) out.tool_call_id = message.tool_call_id;
    if (message.tool_calls !== undefined) out.tool_calls = message.tool_calls;
    return out;
  });
  return {
    model: body.model,
    messages,
    temperature: body.temperature ?? undefined,
    top_p: body.top_p ?? undefined,
    max_tokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    stop: stopList(body.stop),
    seed: body.seed ?? body.random_seed ?? undefined,
    presence_penalty: body.presence_penalty ?? undefined,
    frequency_penalty: body.frequency_penalty ?? undefined,
    tools: body.tools,
    tool_choice: body.tool_choice,
    response_format: body.response_format,
    stream: body.stream === true,
  };
}

/** Web search is asked with OpenAI's web_search_options (any object) or Causerie's "web_search": true. */
const wantsWebSearch = (body: Body) =>
  body.web_search === true || (typeof body.web_search_options === 'object' && body.web_search_options !== null);

const includeUsage = (options: unknown) =>
  typeof options === 'object' && options !== null && (options as { include_usage?: unknown }).include_usage === true;

/** POST /v1/chat/completions: OpenAI's chat API, JSON or SSE chunks in OpenAI's exact format. */
export function registerOpenAiChatRoutes(app: App, services: Services) {
  app.post(
    '/v1/chat/completions',
    {
      onRequest: authenticate(services),
      config: { surface: 'openai', resumable: true },
      schema: {
        tags: ['openai'],
        security,
        summary: 'Create a chat completion (OpenAI-compatible; "stream": true for SSE chunks)',
        body: ChatCompletionRequest,
        response: { 200: ChatCompletionResponse, ...openAiErrors },
      },
    },
    async (request, reply) => {
      const input = toCompletionInput(request.body);
      const signal = clientGone(reply);
      const actor = principalOf(request);
      // Stateless: no conversation, so no enricher; the same web search adds its context here.
      let sources: SourceBody[] | undefined;
      if (wantsWebSearch(request.body)) {
        const augmented = await services.webSearch.augment({
          actor,
          model: input.model,
          messages: input.messages,
          maxTokens: input.max_tokens,
          signal,
        });
        input.messages = augmented.messages;
        sources = augmented.sources;
      }
      const run = await services.completions.start(actor, input, { signal });
      const id = `chatcmpl-${randomUUID()}`;
      const created = Math.floor(Date.now() / 1000);
      if (!input.stream) {
        const result = await collectCompletion(run);
        const toolCalls = result.toolCalls.length ? { tool_calls: result.toolCalls } : {};
        const cited = sources ? { annotations: urlCitations(result.text, sources) } : {};
        return reply.headers(run.headers).send({
          id,
          object: 'chat.completion',
          created,
          model: run.model,
          system_fingerprint: null,
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: result.toolCalls.length && !result.text ? null : result.text,
                refusal: null,
                ...toolCalls,
                ...cited,
              },
              logprobs: null,
              finish_reason: openAiFinishReason(result.finishReason),
            },
          ],
          usage: usageBody(result.usage),
          ...(sources ? { sources } : {}),
        });
      }
      // Every chunk shares this envelope; only the delta (and the finish reason) change.
      const withUsage = includeUsage(request.body.stream_options);
      const head = `{"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(run.model)},"system_fingerprint":null,"choices":[{"index":0,"delta":`;
      const tail = `,"logprobs":null,"finish_reason":null}]${withUsage ? ',"usage":null' : ''}}`;
      // With web search, the first chunk carries the sources in a top-level field OpenAI clients ignore,
      // and the finishing chunk's delta the url_citation annotations of the [n] in the text.
      const sourcesField = sources ? `,"sources":${JSON.stringify(sources)}` : '';
      let answer = '';
      await streamRun(request, reply, run, {
        surface: 'openai',
        start: (sse) => sse.send(`${head}{"role":"assistant","content":""}${tail.slice(0, -1)}${sourcesField}}`),
        text: (sse, text) => {
          if (sources) answer += text;
          sse.send(`${head}{"content":${JSON.stringify(text)}}${tail}`);
        },
        toolCall: (sse, delta) => {
          const call = {
            index: delta.index,
            ...(delta.id ? { id: delta.id, type: 'function' } : {}),
            function: {
              ...(delta.name ? { name: delta.name } : {}),
              ...(delta.arguments !== undefined ? { arguments: delta.arguments } : {}),
            },
          };
          sse.send(`${head}${JSON.stringify({ tool_calls: [call] })}${tail}`);
        },
        end: (sse, finish, usage) => {
          const delta = sources ? JSON.stringify({ annotations: urlCitations(answer, sources) }) : '{}';
          sse.send(
            `${head}${delta},"logprobs":null,"finish_reason":"${openAiFinishReason(finish)}"}]${withUsage ? ',"usage":null' : ''}}`,
          );
          if (withUsage) {
            sse.sendJson({
              id,
              object: 'chat.completion.chunk',
              created,
              model: run.model,
              system_fingerprint: null,
              choices: [],
              usage: usageBody(usage),
            });
          }
        },
        errorFrame: (rendered) => rendered,
      });
    },
  );
}
