import type { ChatRequest, FinishReason, Provider, ProviderStreamEvent, Usage } from '../../src/providers/provider.ts';

/** What a reader of a provider stream observes, gathered. */
export interface CollectedStream {
  text: string;
  deltas: string[];
  events: ProviderStreamEvent[];
  usage: Usage | undefined;
  finish: FinishReason | undefined;
}

/**
 * Streams one request to the end. `onDelta` runs on each text delta (to abort, or to record the
 * order in which concurrent streams progress).
 */
export async function collect(
  provider: Provider,
  request: ChatRequest,
  options: { signal?: AbortSignal; onDelta?: (text: string, index: number) => void } = {},
): Promise<CollectedStream> {
  const stream = await provider.stream(request, { signal: options.signal ?? new AbortController().signal });
  const result: CollectedStream = { text: '', deltas: [], events: [], usage: undefined, finish: undefined };
  for await (const event of stream) {
    result.events.push(event);
    if (event.type === 'text-delta') {
      result.deltas.push(event.text);
      result.text += event.text;
      options.onDelta?.(event.text, result.deltas.length);
    } else if (event.type === 'usage') result.usage = event.usage;
    else if (event.type === 'finish') result.finish = event.reason;
  }
  return result;
}

export const userSays = (content: string, extra: Partial<ChatRequest> = {}): Omit<ChatRequest, 'model'> => ({
  messages: [{ role: 'user', content }],
  ...extra,
});
