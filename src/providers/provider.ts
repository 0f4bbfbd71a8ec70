import type { ConnectionStats } from './openai-compatible/connection-slots.ts';
import type { AppError } from '../domain/errors.ts';
import type { ProviderError } from './provider-error.ts';

/** A message in the normalized chat request every adapter receives. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  name?: string;
  tool_call_id?: string;
  /** OpenAI-shaped tool calls on assistant messages, passed through untouched. */
  tool_calls?: unknown[];
}

/** The provider-neutral chat request (OpenAI's field names, which every dialect maps onto). */
export interface ChatRequest {
  /** The upstream model name (the registry has already mapped the public id). */
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stop?: string[];
  seed?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  tools?: unknown[];
  tool_choice?: unknown;
  response_format?: unknown;
  /**
   * The caller wants the whole answer at once. A hint: adapters may then make a non-streaming
   * upstream call (less work per request); they still yield the same events.
   */
  stream?: boolean;
  /**
   * The provider's own agent that answers (Mistral's Agents API), when the provider has `agents`.
   * The agent holds the instructions and sampling settings, so `messages` do not repeat them and
   * temperature/top_p are not sent; providers without agents ignore it.
   */
  agentId?: string;
}

/** An agent as a provider with its own agents stores it (Mistral's Agents API). */
export interface ProviderAgentDefinition {
  /** The upstream model name. */
  model: string;
  name: string;
  description?: string | null;
  instructions?: string | null;
  completion_args?: { temperature?: number; top_p?: number; max_tokens?: number };
  tools?: unknown[] | null;
}

/** Agents kept on the provider's side, so its users see them in its console. */
export interface ProviderAgents {
  create(definition: ProviderAgentDefinition, options: { signal: AbortSignal }): Promise<{ id: string }>;
  update(id: string, definition: ProviderAgentDefinition, options: { signal: AbortSignal }): Promise<void>;
  remove(id: string, options: { signal: AbortSignal }): Promise<void>;
}

/** A model a provider reports (discovery); only the id is required. */
export interface ProviderModel {
  id: string;
  /** Tokens of context, when the upstream says (vLLM max_model_len, OpenRouter context_length). */
  contextWindow?: number;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'cancelled' | 'error';

/** What an answer is made of, whoever produced it. */
type AnswerEvent =
  | { type: 'text-delta'; text: string }
  | { type: 'tool-call-delta'; index: number; id?: string; name?: string; arguments?: string }
  | { type: 'usage'; usage: Usage }
  | { type: 'finish'; reason: FinishReason };

/** The normalized event stream every adapter yields. Errors after the first byte travel as events. */
export type ProviderStreamEvent = AnswerEvent | { type: 'error'; error: ProviderError };

/** The same stream as the completions service passes it on, a provider's failure mapped to the caller's error. */
export type StreamEvent = AnswerEvent | { type: 'error'; error: AppError };

/**
 * A model provider. stream() resolves once the upstream has accepted the request (so errors before
 * the first byte are thrown as ProviderError and can become a proper HTTP status), then yields events.
 * Aborting the signal stops the upstream request or the local generation at once.
 */
export interface Provider {
  readonly id: string;
  readonly kind: 'openai-compatible' | 'local' | 'mock';
  stream(request: ChatRequest, options: { signal: AbortSignal }): Promise<AsyncIterable<ProviderStreamEvent>>;
  embed?(
    input: string[],
    model: string,
    options: { signal: AbortSignal },
  ): Promise<{ embeddings: number[][]; usage: Usage }>;
  /**
   * The settings of `request` this provider will not apply (by their request names), so the
   * caller is told (X-Causerie-Ignored-Settings) rather than having them dropped silently.
   */
  ignoredSettings?(request: ChatRequest): string[];
  /** Models the provider offers (GET /v1/models upstream), for discovery. */
  listModels?(options: { signal: AbortSignal }): Promise<Array<string | ProviderModel>>;
  /** Present when the provider keeps agents of its own (Mistral); ChatRequest.agentId then calls one. */
  readonly agents?: ProviderAgents;
  /** Counts tokens when the upstream did not report usage (local tokenizer, or an estimate). */
  countTokens?(text: string, model: string): Promise<number>;
  /** Requests in flight to the provider and waiting for a connection (remote providers). */
  connectionStats?(): ConnectionStats;
  close?(): Promise<void>;
}
