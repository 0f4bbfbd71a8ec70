import type { MessageRow } from './conversations.store.ts';

/**
 * What conversations tell the search index: messages stored with their final text (a user
 * message when written, a reply when it has finished). Deletions need no call: the database
 * removes a deleted message's index row itself. Implementations never throw.
 */
export interface SearchIndexHook {
  messagesStored(userId: number, messages: MessageRow[]): Promise<void>;
}
