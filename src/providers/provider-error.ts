/**
 * How a provider failed, in the provider's terms. Adapters throw (or, after the first byte, yield)
 * a ProviderError; the completions service maps it once to the error the caller sees, so that
 * "the provider refused" never looks like a decision of Causerie's (its own quota, its own validation).
 */
export type ProviderFailure =
  /** The provider refused this request (upstream 400, 404, 413, 422, or a setting the adapter cannot apply). */
  | 'rejected'
  /** The provider is rate limiting Causerie's requests (upstream 429). */
  | 'rate_limited'
  /** The provider refused Causerie's key (upstream 401 or 403): the operator's configuration. */
  | 'key_refused'
  /** No answer in time (connect, first byte, idle, or an upstream 408/504). */
  | 'timeout'
  /** The provider could not be reached, or the connection was lost. */
  | 'unreachable'
  /** Every connection the configuration allows to the provider stayed busy for the whole wait. */
  | 'busy'
  /** The model cannot serve now (a local model missing or not loadable, the provider shutting down). */
  | 'unavailable'
  /** Anything else: an upstream 5xx, a malformed answer, a stream cut short. */
  | 'failed';

const retryableFailures = new Set<ProviderFailure>(['rate_limited', 'busy', 'timeout', 'unreachable', 'unavailable']);
const retryableStatuses = new Set([502, 503, 504]);

export class ProviderError extends Error {
  /** The provider's id in the registry (e.g. "openai", "local"). */
  readonly provider: string;
  readonly failure: ProviderFailure;
  /** The upstream's HTTP status, when it answered with one. */
  readonly status: number | undefined;
  /** Whether the same request may succeed if sent again later. */
  readonly isRetryable: boolean;
  /** The upstream's Retry-After, when it sent one. */
  readonly retryAfter: string | undefined;
  /** The request field at fault, when the adapter knows it (e.g. "tools" for a local model). */
  readonly field: string | undefined;

  constructor(
    provider: string,
    failure: ProviderFailure,
    message: string,
    options: { status?: number; retryAfter?: string; field?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ProviderError';
    this.provider = provider;
    this.failure = failure;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
    this.field = options.field;
    this.isRetryable =
      retryableFailures.has(failure) || (options.status !== undefined && retryableStatuses.has(options.status));
  }
}
