import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isoAt, type Clock } from '../../../domain/clock.ts';
import { collectCompletion } from '../../../domain/completions/collect.ts';
import type { CompletionRun } from '../../../domain/completions/completions.types.ts';
import type { ConversationRun } from '../../../domain/conversations/conversation-completions.ts';
import { streamRun, usageBody } from '../../completion-responses.ts';
import { collectReply, streamReply } from '../../conversation-runs.ts';
import { renderError } from '../../errors.ts';
import { toMessageBody } from '../../schemas/conversations.ts';
import { sourcesOf } from '../../web-sources.ts';

/**
 * The sessions dialect's answer to a completion without a session (POST /api/v1/models/completions, and a
 * prompt to an agent): one JSON object, or Server-Sent Events start -> delta... -> end, then [DONE].
 */
export async function sendNativeCompletion(
  request: FastifyRequest,
  reply: FastifyReply,
  run: CompletionRun,
  options: { stream: boolean; clock: Clock },
): Promise<void> {
  const id = `cmpl_${randomUUID()}`;
  const createdAt = isoAt(options.clock.now());
  if (!options.stream) {
    const result = await collectCompletion(run);
    await reply.headers(run.headers).send({
      id,
      object: 'completion',
      model_id: run.model,
      created_at: createdAt,
      content: result.text,
      finish_reason: result.finishReason,
      usage: usageBody(result.usage),
    });
    return;
  }
  await streamRun(request, reply, run, {
    surface: 'native',
    start: (sse) => sse.sendJson({ type: 'start', id, model_id: run.model, created_at: createdAt }),
    text: (sse, text) => sse.sendJson({ type: 'delta', content: text }),
    end: (sse, finish, usage) => sse.sendJson({ type: 'end', finish_reason: finish, usage: usageBody(usage) }),
    errorFrame: (rendered) => ({ type: 'error', ...(rendered as object) }),
  });
}

/**
 * The sessions dialect's answer to a completion inside a session: the stored prompt and reply as JSON, or
 * Server-Sent Events start -> delta... -> end (the stored reply), then [DONE].
 */
export async function sendSessionRun(
  request: FastifyRequest,
  reply: FastifyReply,
  run: ConversationRun,
  options: { stream: boolean },
): Promise<void> {
  const userMessage = toMessageBody(run.appended[0]!);
  if (!options.stream) {
    const { message } = await collectReply(run);
    await reply.headers(run.headers).send({
      session_id: run.conversation.id,
      model: run.model,
      user_message: userMessage,
      message: toMessageBody(message),
      usage: { prompt_tokens: message.prompt_tokens, completion_tokens: message.completion_tokens },
    });
    return;
  }
  await streamReply(request, reply, run, {
    start: (sse) => {
      sse.sendJson({
        type: 'start',
        session_id: run.conversation.id,
        model: run.model,
        user_message: userMessage,
        message_id: run.reply.id,
      });
      // Web search: the sources are known before the first token (docs/web-search.md).
      const sources = sourcesOf(run.reply);
      if (sources) sse.sendJson({ type: 'sources', sources });
    },
    delta: (sse, text) => sse.sendJson({ type: 'delta', content: text }),
    end: (sse, message) => sse.sendJson({ type: 'end', message: toMessageBody(message) }),
    error: (sse, error, requestId) => sse.sendJson({ type: 'error', ...renderError(error, 'native', requestId) }),
  });
}
