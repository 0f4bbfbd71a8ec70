import type { ChatHistoryItem, LlamaChatResponse } from 'node-llama-cpp';
import type { ChatMessage, ChatRequest, FinishReason } from '../provider.ts';
import { ProviderError } from '../provider-error.ts';

const refused = (provider: string, field: string, message: string) =>
  new ProviderError(provider, 'rejected', `${field}: ${message}`, { field });

/**
 * Maps the normalized messages onto node-llama-cpp's chat history, ending with the model turn to
 * generate. The chat wrapper (from the GGUF's template) later renders it into the prompt.
 * A trailing assistant message is continued, as with other providers that accept a prefill.
 */
export function toChatHistory(provider: string, messages: ChatMessage[]): ChatHistoryItem[] {
  if (messages.length === 0) throw refused(provider, 'messages', 'must contain at least one message');
  const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
    const text = message.content ?? '';
    if (message.role === 'system') return { type: 'system', text };
    if (message.role === 'assistant') return { type: 'model', response: [text] };
    // Local models get no tool definitions, so a tool result from an earlier turn is plain context.
    if (message.role === 'tool')
      return { type: 'user', text: `Tool result${message.name ? ` (${message.name})` : ''}: ${text}` };
    return { type: 'user', text };
  });
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  return history;
}

/**
 * Refuses, before the first byte, what the local adapter cannot honour instead of ignoring it:
 * a client that sends tools or asks for JSON would otherwise get an answer that looks valid.
 */
export function assertLocallySupported(provider: string, request: ChatRequest) {
  if (Array.isArray(request.tools) && request.tools.length > 0 && request.tool_choice !== 'none') {
    throw refused(
      provider,
      'tools',
      'local models do not support tool calls; use a provider that does, or send no tools',
    );
  }
  const format = request.response_format as { type?: unknown } | undefined;
  if (format && typeof format === 'object' && format.type !== undefined && format.type !== 'text') {
    throw refused(provider, 'response_format', `local models do not support response_format "${String(format.type)}"`);
  }
}

/** Sampling options in node-llama-cpp's names. OpenAI's defaults apply: temperature 1, top_p 1. */
export function toGenerationOptions(request: ChatRequest, maxTokens: number) {
  const stops = (request.stop ?? []).filter((stop) => stop.length > 0);
  return {
    maxTokens,
    temperature: request.temperature ?? 1,
    topP: request.top_p,
    seed: request.seed,
    customStopTriggers: stops.length > 0 ? stops : undefined,
    repeatPenalty:
      penalty(request.presence_penalty) !== undefined || penalty(request.frequency_penalty) !== undefined
        ? { presencePenalty: penalty(request.presence_penalty), frequencyPenalty: penalty(request.frequency_penalty) }
        : undefined,
  };
}

/** llama.cpp's penalties go from 0 to 1; OpenAI's from -2 to 2. Only the common range is applied. */
const penalty = (value: number | undefined) => (value !== undefined && value >= 0 && value <= 1 ? value : undefined);

/** Penalties outside 0..1 (a negative one asks for repetition): llama.cpp cannot apply them. */
export function localIgnoredSettings(request: ChatRequest): string[] {
  return (['presence_penalty', 'frequency_penalty'] as const).filter(
    (name) => request[name] !== undefined && penalty(request[name]) === undefined,
  );
}

export function toFinishReason(stopReason: LlamaChatResponse['metadata']['stopReason']): FinishReason {
  switch (stopReason) {
    case 'maxTokens':
      return 'length';
    case 'abort':
      return 'cancelled';
    case 'functionCalls':
      return 'tool_calls';
    default:
      // eogToken, stopGenerationTrigger (the template's end of turn) and customStopTrigger (`stop`).
      return 'stop';
  }
}
