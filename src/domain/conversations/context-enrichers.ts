import type { ChatMessage } from '../../providers/provider.ts';
import type { Actor } from '../users/users.service.ts';
import type { ConversationRow } from './conversations.store.ts';

/** What an enricher sees of one completion in a conversation, before the context is fitted to the window. */
export interface EnrichmentInput {
  actor: Actor;
  conversation: ConversationRow;
  /** Whether this request created the conversation: nothing (documents, say) is attached to it yet. */
  created?: boolean;
  /** The public model id that will answer. */
  model: string;
  /** The messages the model would see so far: system prompt, then history ending with the user's message. */
  messages: ChatMessage[];
  /** Per-request options a surface passed through (`web_search`, `prompt_id`, ...), by name. */
  options: Readonly<Record<string, unknown>>;
  /** The generation settings the request itself gave (an enricher's settings only fill the others). */
  requested?: Readonly<EnrichedSettings>;
  signal: AbortSignal;
}

/** Generation settings an enricher may set when the request left them out (an agent's defaults). */
export interface EnrichedSettings {
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
}

export interface Enrichment {
  /** Replaces the messages the model sees (for example with retrieved passages added). */
  messages?: ChatMessage[];
  /** Merged into the reply's stored metadata, which every surface can show (sources, chunks used). */
  metadata?: Record<string, unknown>;
  settings?: EnrichedSettings;
  /** The provider's own agent that answers (Mistral's Agents API); the messages then leave out what it holds. */
  providerAgentId?: string;
}

/**
 * Adds to what the model sees for a completion in a conversation: an agent's instructions, the
 * session's documents, web results. Enrichers run in order, each on the previous one's messages,
 * after the user's message is stored and before the limits gate admits the call.
 */
export interface ContextEnricher {
  readonly name: string;
  enrich(input: EnrichmentInput): Promise<Enrichment | undefined>;
}
