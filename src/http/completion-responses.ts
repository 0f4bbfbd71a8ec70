import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CompletionRun } from '../domain/completions/completions.types.ts';
import { AppError } from '../domain/errors.ts';
import type { FinishReason, Usage } from '../providers/provider.ts';
import { renderError, type Surface } from './errors.ts';
import { recordAnswer } from './resume.ts';
import { FrameCollector, type SseSink, SseStream } from './sse.ts';
import { answerLost } from './conversation-runs.ts';

/** OpenAI has no "cancelled" or "error" finish reason; those runs end as a plain stop. */
export const openAiFinishReason = (reason: FinishReason) =>
  reason === 'cancelled' || reason === 'error' ? 'stop' : reason;

export const usageBody = (usage: Usage) => ({ ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens });

/** The same for every answer: built once (an Error's stack trace costs more than the rest of a stream's set-up). */
const lostAnswer = answerLost();

/**
 * The frames a resumed stream ends with if its generator dies, by their error event: the same for
 * every answer of a surface, so every open answer's log shares one copy instead of keeping its own.
 */
const lostFramesByError = new Map<string, string[]>();
function lostFrames(errorEvent: string): string[] {
  let frames = lostFramesByError.get(errorEvent);
  if (!frames) {
    const lost = new FrameCollector();
    lost.send(errorEvent);
    lost.send('[DONE]');
    frames = lost.frames;
    // Bounded: an error event that named its request would make one per answer.
    if (lostFramesByError.size < 64) lostFramesByError.set(errorEvent, frames);
  }
  return frames;
}

/** How a surface writes a run's events as SSE frames. */
export interface SseRendering {
  start?(sse: SseSink): void;
  text(sse: SseSink, text: string): void;
  toolCall?(sse: SseSink, delta: { index: number; id?: string; name?: string; arguments?: string }): void;
  end(sse: SseSink, finish: FinishReason, usage: Usage): void;
  /** After the first byte a failure is a last event, in the surface's error shape. */
  surface: Surface;
  /** How the error event is framed (OpenAI: a bare data line; native: {"type": "error", ...}). */
  errorFrame(rendered: unknown): unknown;
}

/**
 * Streams a completion run as Server-Sent Events: the surface's frames for each event, an error
 * event if the run fails after the first byte, and `data: [DONE]` last. Heartbeat comments keep
 * quiet streams open (SseStream). The events are recorded so the client can resume them; the
 * model's stream is read only as fast as the client reads (or, once it left, as the log takes).
 */
export async function streamRun(
  request: FastifyRequest,
  reply: FastifyReply,
  run: CompletionRun,
  rendering: SseRendering,
): Promise<void> {
  const errorFrame = (error: AppError) =>
    JSON.stringify(rendering.errorFrame(renderError(error, rendering.surface, String(request.id))));
  const recorder = recordAnswer(request, () => ({ lostFrames: lostFrames(errorFrame(lostAnswer)) }));
  const sse = new SseStream(request, reply, { headers: run.headers, recorder });
  rendering.start?.(sse);
  let usage: Usage = { prompt_tokens: 0, completion_tokens: 0 };
  try {
    for await (const event of run.events) {
      switch (event.type) {
        case 'text-delta':
          rendering.text(sse, event.text);
          break;
        case 'tool-call-delta':
          rendering.toolCall?.(sse, event);
          break;
        case 'usage':
          usage = event.usage;
          break;
        case 'finish':
          rendering.end(sse, event.reason, usage);
          break;
        case 'error':
          sse.send(errorFrame(event.error));
          break;
      }
      // Awaited only when the socket is full: an await per event costs a turn of the microtask queue.
      const full = sse.drained();
      if (full) await full;
    }
  } catch (error) {
    const appError = error instanceof AppError ? error : new AppError('internal_error', 'The answer failed');
    if (appError.code === 'internal_error') request.log.error({ err: error }, 'completion stream failed');
    sse.send(errorFrame(appError));
  }
  sse.send('[DONE]');
  await sse.end();
}
