import type { ChatMessage, Provider, Usage } from '../../providers/provider.ts';
import type { Prices } from '../models/models.config.ts';

/**
 * Token counts when the upstream reports none: the provider's own tokenizer when it has one,
 * otherwise the documented estimate of one token per 4 characters, rounded up.
 */
export const estimateTokens = (chars: number) => Math.ceil(chars / 4);

function messageChars(messages: ChatMessage[]): number {
  let chars = 0;
  for (const message of messages) {
    chars += message.content?.length ?? 0;
    if (message.tool_calls) chars += JSON.stringify(message.tool_calls).length;
  }
  return chars;
}

const messageText = (messages: ChatMessage[]) => messages.map((m) => m.content ?? '').join('\n');

export async function countPromptTokens(provider: Provider, model: string, messages: ChatMessage[]): Promise<number> {
  if (provider.countTokens) return provider.countTokens(messageText(messages), model);
  return estimateTokens(messageChars(messages));
}

/** Cost in micro-units: prices are per million tokens, so tokens × price is already in 1e-6 units. */
export function costMicros(usage: Usage, prices: Prices | undefined): number {
  if (!prices) return 0;
  return Math.round(usage.prompt_tokens * prices.input + usage.completion_tokens * prices.output);
}

/** Tracks what a run produced, for the usage row when the upstream reports nothing. */
export class ProducedText {
  private chars = 0;
  private readonly pieces: string[] | undefined;

  constructor(keepText: boolean) {
    // Only a provider with its own tokenizer needs the text itself; otherwise a count suffices.
    this.pieces = keepText ? [] : undefined;
  }

  add(text: string): void {
    this.chars += text.length;
    this.pieces?.push(text);
  }

  async tokens(provider: Provider, model: string): Promise<number> {
    if (this.pieces && provider.countTokens) return provider.countTokens(this.pieces.join(''), model);
    return estimateTokens(this.chars);
  }
}
