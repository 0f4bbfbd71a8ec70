import type { FinishReason, StreamEvent, Usage } from '../../providers/provider.ts';
import type { AppError } from '../errors.ts';
import type { CompletionRun } from './completions.types.ts';

/** A tool call assembled from its deltas, in OpenAI's shape. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface CollectedCompletion {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
}

/** A whole answer read from its events; `error` is the stream's error event, if it ended with one. */
export interface ReadAnswer extends CollectedCompletion {
  error: AppError | undefined;
}

/** Reads an answer's events to the end, assembling its text, tool calls, usage and how it ended. */
export async function readAnswer(events: AsyncIterable<StreamEvent>): Promise<ReadAnswer> {
  let text = '';
  const calls: ToolCall[] = [];
  let finishReason: FinishReason = 'stop';
  let usage: Usage = { prompt_tokens: 0, completion_tokens: 0 };
  let error: AppError | undefined;
  for await (const event of events) {
    switch (event.type) {
      case 'text-delta':
        text += event.text;
        break;
      case 'tool-call-delta': {
        calls[event.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } };
        const call = calls[event.index]!;
        if (event.id) call.id = event.id;
        if (event.name) call.function.name += event.name;
        if (event.arguments) call.function.arguments += event.arguments;
        break;
      }
      case 'usage':
        usage = event.usage;
        break;
      case 'finish':
        finishReason = event.reason;
        break;
      case 'error':
        error = event.error;
        break;
    }
  }
  return { text, toolCalls: calls.filter(Boolean), finishReason, usage, error };
}

/**
 * Reads a whole run, for answers that are not streamed. An error event is thrown: nothing has
 * been sent yet, so it becomes the response's HTTP status.
 */
export async function collectCompletion(run: CompletionRun): Promise<CollectedCompletion> {
  const { error, ...answer } = await readAnswer(run.events);
  if (error) throw error;
  return answer;
}
