import type { Actor } from '../users/users.service.ts';

/** What a model call asks of the limits before it starts. */
export interface LimitRequest {
  actor: Actor;
  model: string;
  /** Worst case: prompt tokens + max_tokens (or the model's cap). Reserved up front. */
  reserveTokens: number;
  /** Worst-case cost in micro-units, from the model's prices. */
  reserveCostMicros: number;
  stream: boolean;
  /**
   * Optional: the prompt's own tokens. When given and the worst case does not fit in a token
   * quota, the gate may grant less (at least promptTokens + 1) and say so in
   * Admission.maxCompletionTokens, which the caller must then apply as its max_tokens.
   */
  promptTokens?: number;
}

/** A granted admission: settle it with what was actually used, exactly once. */
export interface Admission {
  /** X-RateLimit-* headers for the response. */
  headers: Record<string, string>;
  /** Set when the gate granted fewer tokens than reserveTokens: the most the completion may produce. */
  maxCompletionTokens?: number;
  settle(actual: { tokens: number; costMicros: number }): Promise<void>;
}

/**
 * Checks and reserves every limit that applies to a model call. admit() throws
 * AppError('rate_limited') with Retry-After and X-RateLimit-* headers when a limit is exhausted.
 */
export interface LimitsGate {
  admit(request: LimitRequest): Promise<Admission>;
}

/** The gate when no plan or key limit applies: admits everything. */
export const unlimitedGate: LimitsGate = {
  async admit() {
    return { headers: {}, async settle() {} };
  },
};
