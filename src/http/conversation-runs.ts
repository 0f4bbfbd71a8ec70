import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConversationRun } from '../domain/conversations/conversation-completions.ts';
import type { Message } from '../domain/conversations/conversations.types.ts';
import { readAnswer } from '../domain/completions/collect.ts';
import { AppError } from '../domain/errors.ts';
import type { FinishReason } from '../providers/provider.ts';
import { recordAnswer } from './resume.ts';
import { FrameCollector, type SseSink, SseStream } from './sse.ts';
import { renderError } from './errors.ts';

/** A reply collected whole, for the surfaces' non-streaming answers. */
export async function collectReply(run: ConversationRun): Promise<{ message: Message; finishReason: FinishReason }> {
  const { error, finishReason } = await readAnswer(run.events);
  const message = await run.done;
  // Nothing was sent yet, so a failure can still be a proper HTTP error; the partial text is kept in the history.
  if (error) throw error;
  if (message.status === 'cancelled')
    throw new AppError('upstream_error', 'The completion was cancelled before it finished');
  return { message, finishReason };
}

export interface StreamRendering {
  /** Extra response headers (the completions service's rate-limit headers are added). */
  headers?: Record<string, string>;
  /** Sent once before the first token. */
  start?(sse: SseSink): void;
  delta(sse: SseSink, text: string): void;
  /** Sent after the last token when the reply ended normally. */
  end?(sse: SseSink, message: Message, finishReason: FinishReason): void;
  /** Sent when the model failed mid-stream; defaults to an `error` event with the native error body. */
  error?(sse: SseSink, error: AppError, requestId: string): void;
  /** Whether to close with `data: [DONE]` (also after an error). */
  done?: boolean;
}

/** The error a resumed stream ends with when the process generating its answer died. */
export const answerLost = () =>
  new AppError(
    'answer_interrupted',
    'The server generating this answer stopped before it finished; the partial answer is stored',
  );

/** One error for every stream's prepared ending, made the first time one is prepared (an error per stream cost its stack trace). */
let lostAnswer: AppError | undefined;

/** Writes how a stream ends after a failure, in the surface's dialect. */
function sendFailure(sse: SseSink, rendering: StreamRendering, failure: AppError, requestId: string) {
  if (rendering.error) rendering.error(sse, failure, requestId);
  else sse.sendJson(renderError(failure, 'native', requestId), 'error');
  if (rendering.done !== false) sse.send('[DONE]');
}

/**
 * Streams a conversation run as Server-Sent Events in a surface's dialect. The events are recorded
 * so the client can resume them (any node, by Last-Event-ID); if this process dies, a resuming
 * client gets the stored partial reply and the failure ending prepared here.
 */
export async function streamReply(
  request: FastifyRequest,
  reply: FastifyReply,
  run: ConversationRun,
  rendering: StreamRendering,
): Promise<void> {
  const recorder = recordAnswer(request, () => {
    const lost = new FrameCollector();
    lostAnswer ??= answerLost();
    sendFailure(lost, rendering, lostAnswer, String(request.id));
    return {
      lostFrames: lost.frames,
      conversationId: run.conversation.id,
      messageId: run.reply.id,
      leaseOwner: run.leaseOwner,
    };
  });
  const sse = new SseStream(request, reply, { headers: { ...run.headers, ...rendering.headers }, recorder });
  rendering.start?.(sse);
  let finishReason: FinishReason = 'stop';
  let failure: AppError | undefined;
  for await (const event of run.events) {
    if (event.type === 'text-delta') rendering.delta(sse, event.text);
    else if (event.type === 'finish') finishReason = event.reason;
    else if (event.type === 'error') failure = event.error;
    await sse.drained();
  }
  const message = await run.done.catch((error: unknown) => {
    failure ??= error instanceof AppError ? error : new AppError('internal_error', 'The reply could not be stored');
    return undefined;
  });
  if (failure) {
    sendFailure(sse, rendering, failure, String(request.id));
  } else {
    if (message && message.status === 'complete') rendering.end?.(sse, message, finishReason);
    if (rendering.done !== false) sse.send('[DONE]');
  }
  await sse.end();
}
