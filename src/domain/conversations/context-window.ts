import type { ChatMessage } from '../../providers/provider.ts';
import { estimateTextTokens } from '../completions/usage-meter.ts';

/** A cheap, tokenizer-free estimate: the usage meter's, plus the framing of a message. */
export function estimateTokens(message: ChatMessage): number {
  return estimateTextTokens(message.content ?? '') + 4;
}

/**
 * Fits a conversation into a model's context window: system messages are always kept, then the
 * newest messages as far as they fit, and the oldest are dropped first. The newest message is kept
 * even if it alone is too long (the provider then answers with its own error).
 */
export function fitToContext(
  messages: ChatMessage[],
  options: { contextWindow: number | undefined; maxTokens?: number },
): ChatMessage[] {
  if (!options.contextWindow) return messages;
  const reserve = options.maxTokens ?? Math.min(1024, Math.floor(options.contextWindow / 4));
  let budget = options.contextWindow - reserve;
  const system = messages.filter((m) => m.role === 'system');
  for (const message of system) budget -= estimateTokens(message);
  const kept = new Set<ChatMessage>();
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index]!;
    if (message.role === 'system') continue;
    const cost = estimateTokens(message);
    if (cost > budget && kept.size > 0) break;
    kept.add(message);
    budget -= cost;
  }
  return messages.filter((m) => m.role === 'system' || kept.has(m));
}
