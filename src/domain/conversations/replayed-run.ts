import type { StreamEvent } from '../../providers/provider.ts';
import type { ConversationRun } from './conversation-completions.ts';
import { toConversation, toMessage } from './conversations.types.ts';
import type { ConversationRow, MessageRow } from './conversations.store.ts';

/** Marks an answer given back for a repeated Idempotency-Key rather than produced again. */
export const replayedHeader = 'idempotent-replayed';

/**
 * A finished completion given back as a run, so every surface renders a request repeated with its
 * Idempotency-Key exactly as it renders a new one: the stored text as one delta, then how it ended.
 */
export function replayedRun(conversation: ConversationRow, appended: MessageRow[], reply: MessageRow): ConversationRun {
  const message = toMessage(reply);
  async function* events(): AsyncGenerator<StreamEvent> {
    if (reply.content) yield { type: 'text-delta', text: reply.content };
    yield {
      type: 'finish',
      reason: reply.status === 'complete' ? 'stop' : reply.status === 'error' ? 'error' : 'cancelled',
    };
  }
  return {
    conversation: toConversation(conversation),
    created: false,
    model: reply.model ?? conversation.model ?? '',
    headers: { [replayedHeader]: 'true' },
    appended: appended.map(toMessage),
    reply: message,
    events: events(),
    done: Promise.resolve(message),
  };
}
