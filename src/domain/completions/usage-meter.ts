import type { ChatMessage, Provider, Usage } from '../../providers/provider.ts';
import type { Prices } from '../models/models.config.ts';

/** Characters of a text, split into ASCII and the rest (which tokenizers cut much finer). */
export interface CharCount {
  ascii: number;
  other: number;
}

export function countChars(text: string, into: CharCount = { ascii: 0, other: 0 }): CharCount {
  let ascii = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x80) ascii++;
  into.ascii += ascii;
  into.other += text.length - ascii;
  return into;
}

/**
 * Token counts when the upstream reports none and the provider has no tokenizer: one token per 4
 * ASCII characters, and one per other character (Chinese, Japanese, Cyrillic, accents, emoji cost
 * one or more tokens each in every common tokenizer, so counting them at 1/4 let a quota be
 * passed), rounded up. An overestimate for accented Latin text, on purpose.
 */
export const estimateTokens = (chars: CharCount) => Math.ceil(chars.ascii / 4 + chars.other);

/** The estimate for one text. */
export const estimateTextTokens = (text: string) => estimateTokens(countChars(text));

function messageChars(messages: ChatMessage[]): CharCount {
  const chars = { ascii: 0, other: 0 };
  for (const message of messages) {
    countChars(message.content ?? '', chars);
    if (message.tool_calls) countChars(JSON.stringify(message.tool_calls), chars);
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
  private readonly chars: CharCount = { ascii: 0, other: 0 };
  private readonly pieces: string[] | undefined;

  constructor(keepText: boolean) {
    // Only a provider with its own tokenizer needs the text itself; otherwise a count suffices.
    this.pieces = keepText ? [] : undefined;
  }

  add(text: string): void {
    countChars(text, this.chars);
    this.pieces?.push(text);
  }

  async tokens(provider: Provider, model: string): Promise<number> {
    if (this.pieces && provider.countTokens) return provider.countTokens(this.pieces.join(''), model);
    return estimateTokens(this.chars);
  }
}
