import type { ChatRequest, StreamEvent, Usage } from '../../providers/provider.ts';
import type { Actor } from '../users/users.service.ts';

/** A completion as every surface asks for it: the provider-neutral request with the public model id. */
export interface CompletionInput extends Omit<ChatRequest, 'stream'> {
  /** Public model id from the registry (GET /api/v1/models). */
  model: string;
  /** Whether the caller streams (limits count concurrent streams). */
  stream: boolean;
  /** The conversation this completion belongs to, for the usage ledger. */
  conversationId?: number;
}

/**
 * An admitted completion. Errors before the first event (unknown model, 429 over a limit,
 * upstream refused) are thrown by CompletionsService.start as AppError; afterwards they arrive as
 * an `error` event. Iterating `events` to the end (or aborting the signal) records the usage row
 * and settles the limits exactly once, charging only what was produced.
 */
export interface CompletionRun {
  /** The public model id that serves the request. */
  model: string;
  /** X-RateLimit-* headers to put on the response. */
  headers: Record<string, string>;
  events: AsyncIterable<StreamEvent>;
  /** Usage once the run has ended (reported by the upstream or counted). */
  usage(): Usage | undefined;
}

export interface Completions {
  start(actor: Actor, input: CompletionInput, options: { signal: AbortSignal }): Promise<CompletionRun>;
}
