import type { FinishReason, Usage } from '../../providers/provider.ts';
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

/**
 * Reads a whole run, for answers that are not streamed. An error event is thrown: nothing has
 * been sent yet, so it becomes the response's HTTP status.
 */
export async function collectCompletion(run: CompletionRun): Promise<CollectedCompletion> {
  let text = '';
  const calls: ToolCall[] = [];
  let finishReason: FinishReason = 'stop';
  let usage: Usage = { prompt_tokens: 0, completion_tokens: 0 };
  for await (const event of run.events) {
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
        throw event.error;
    }
  }
  return { text, toolCalls: calls.filter(Boolean), finishReason, usage };
}
