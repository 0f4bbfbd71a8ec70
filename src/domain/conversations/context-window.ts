import type { ChatMessage } from '../../providers/provider.ts';
import { answerReserve, messageTokens, type TokenCounter } from '../completions/token-budget.ts';

/**
 * Fits a conversation into a model's context window, counting with the model's own tokenizer when
 * it has one (the counter admission uses): system messages are always kept, then the newest
 * messages as far as they fit, and the oldest are dropped first. The newest message is kept even
 * if it alone is too long (the provider then answers with its own error).
 */
export async function fitToContext(
  messages: ChatMessage[],
  options: { contextWindow: number | undefined; maxTokens?: number; count: TokenCounter },
): Promise<ChatMessage[]> {
  if (!options.contextWindow) return messages;
  let budget = options.contextWindow - answerReserve(options.contextWindow, options.maxTokens);
  for (const message of messages) if (message.role === 'system') budget -= await messageTokens(options.count, message);
  const kept = new Set<ChatMessage>();
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index]!;
    if (message.role === 'system') continue;
    const cost = await messageTokens(options.count, message);
    if (cost > budget && kept.size > 0) break;
    kept.add(message);
    budget -= cost;
  }
  return messages.filter((m) => m.role === 'system' || kept.has(m));
}
