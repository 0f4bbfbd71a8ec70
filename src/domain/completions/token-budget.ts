import type { ChatMessage, Provider } from '../../providers/provider.ts';

/**
 * Token counts, one way for everyone: admission (what a request reserves), the usage row (when the
 * upstream reports nothing), fitting a conversation into a context window and sizing the room left
 * for documents or web pages. A provider with a tokenizer (local models) counts; otherwise the
 * estimate below stands in for it.
 */

/** Counts the tokens of a text for one model. */
export type TokenCounter = (text: string) => Promise<number>;

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
 * The estimate without a tokenizer: one token per 4 ASCII characters, and one per other character
 * (Chinese, Japanese, Cyrillic, accents, emoji cost one or more tokens each in every common
 * tokenizer, so counting them at 1/4 let a quota be passed), rounded up. An overestimate for
 * accented Latin text, on purpose.
 */
export const tokensOfChars = (chars: CharCount) => Math.ceil(chars.ascii / 4 + chars.other);

/** The estimate for one text. */
export const estimateTextTokens = (text: string) => tokensOfChars(countChars(text));

/** The estimating counter, for callers with no provider at hand. */
export const estimatingCounter: TokenCounter = async (text) => estimateTextTokens(text);

/** The provider's tokenizer for `model` when it has one, else the estimate. */
export function tokenCounterOf(provider: Provider | undefined, model: string): TokenCounter {
  const countTokens = provider?.countTokens?.bind(provider);
  return countTokens ? (text) => countTokens(text, model) : estimatingCounter;
}

/** What a chat template adds around each message (role markers, separators). */
const messageFraming = 4;

/** One message's share of a context window: its text, its tool calls and its framing. */
export async function messageTokens(count: TokenCounter, message: ChatMessage): Promise<number> {
  const toolCalls = message.tool_calls ? JSON.stringify(message.tool_calls) : '';
  return (await count((message.content ?? '') + toolCalls)) + messageFraming;
}

/** A whole conversation's share of a context window. */
export async function conversationTokens(count: TokenCounter, messages: ChatMessage[]): Promise<number> {
  let total = 0;
  for (const message of messages) total += await messageTokens(count, message);
  return total;
}

/** The prompt's tokens as admission reserves them and the usage row reports them without upstream usage. */
export async function promptTokens(count: TokenCounter, messages: ChatMessage[]): Promise<number> {
  if (count === estimatingCounter) {
    // The same estimate, counted in one pass: tool calls included, no text joined.
    const chars = { ascii: 0, other: 0 };
    for (const message of messages) {
      countChars(message.content ?? '', chars);
      if (message.tool_calls) countChars(JSON.stringify(message.tool_calls), chars);
    }
    return tokensOfChars(chars);
  }
  return count(messages.map((m) => m.content ?? '').join('\n'));
}

/** Tokens kept free for the answer: what the caller asked for, else a quarter of the window up to 1,024. */
export const answerReserve = (contextWindow: number, maxTokens?: number) =>
  maxTokens ?? Math.min(1024, Math.floor(contextWindow / 4));
